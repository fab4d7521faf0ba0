"""HTTP serving: uvicorn wiring (run.py) and the hardened httptools protocol (protocol.py)."""
