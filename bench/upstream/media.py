"""The bench upstream for large transfers: an asyncio Protocol that serves and swallows GiBs cheaply.

GET /file/{n}    n bytes (a 1 MiB block repeated) with content-length, written under flow control
PUT /upload      reads and counts the body (httptools), answers 201 with the size
python -m bench.upstream.media --port 18080
"""

from __future__ import annotations

import argparse
import asyncio

import httptools

BLOCK = bytes(range(256)) * 4096  # 1 MiB


class MediaServer(asyncio.Protocol):
    def __init__(self) -> None:
        self.parser = httptools.HttpRequestParser(self)
        self.url = b""
        self.received = 0
        self.left = 0
        self.paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.transport.close()

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_body(self, body: bytes) -> None:
        self.received += len(body)

    def on_message_complete(self) -> None:
        url, self.url = self.url, b""
        if url.startswith(b"/file/") or b"/file/" in url:
            n = int(url.rsplit(b"/", 1)[1])
            self.transport.write(b"HTTP/1.1 200 OK\r\ncontent-type: video/mp4\r\ncontent-length: %d\r\n\r\n" % n)
            self.left = n
            self._pump()
            return
        body = b'{"size":%d}' % self.received
        self.received = 0
        self.transport.write(b"HTTP/1.1 201 Created\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))

    def _pump(self) -> None:
        view = memoryview(BLOCK)
        while self.left and not self.paused:
            piece = view[: min(len(BLOCK), self.left)]
            self.left -= len(piece)
            self.transport.write(piece)

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        self._pump()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()

    async def serve() -> None:
        server = await asyncio.get_running_loop().create_server(MediaServer, "127.0.0.1", args.port, backlog=1024)
        async with server:
            await server.serve_forever()

    try:
        import uvloop

        uvloop.run(serve())
    except ImportError:
        asyncio.run(serve())


if __name__ == "__main__":
    main()
