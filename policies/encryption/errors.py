"""The jwe policy's refusals: problem+json, SPLP codes 8005xx. None of them lets the request reach the backend."""

from __future__ import annotations

from gateway.errors import Problem

JWE_REQUIRED = Problem(415, 800510, "jwe-required", "Encrypted payload (application/jose) required")
JWE_MALFORMED = Problem(400, 800511, "jwe-malformed", "Not a compact JWE")
JWE_UNSUPPORTED = Problem(400, 800512, "jwe-unsupported-algorithm", "JWE algorithm not accepted")
JWE_COMPRESSED = Problem(400, 800513, "jwe-compression-refused", "Compressed JWE payloads are refused")
JWE_WRONG_KEY = Problem(400, 800514, "jwe-wrong-key", "JWE not encrypted to this API's key")
JWE_TAMPERED = Problem(400, 800515, "jwe-integrity-failed", "JWE authentication tag does not verify")
JWE_NO_RECIPIENT = Problem(403, 800516, "jwe-no-recipient-key", "No public key to encrypt the response to")
JWE_TOO_LARGE = Problem(413, 800517, "jwe-payload-too-large", "Payload too large to encrypt or decrypt")
BACKEND_JWE = Problem(502, 800518, "backend-jwe-invalid", "Backend response could not be decrypted or encrypted")
