"""Broken servers on 127.0.0.1, for the failures a real network produces (tests only)."""

from __future__ import annotations

import socket
import threading


class FakeTcpServer:
    """Accepts TCP connections and either never answers ("silent": a server behind a broken firewall)
    or answers PostgreSQL's SSLRequest with "no" ("no-ssl": a server without TLS), or answers any HTTP
    request with a web page ("http-html": a base URL that points at some other web server)."""

    def __init__(self, mode: str = "silent") -> None:
        if mode not in ("silent", "no-ssl", "http-html"):
            raise ValueError(mode)
        self.mode = mode
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port: int = self.sock.getsockname()[1]
        self.clients: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self.sock.accept()
            except TimeoutError:
                continue
            if self.mode == "no-ssl":
                client.recv(8)  # SSLRequest
                client.sendall(b"N")
            elif self.mode == "http-html":
                client.settimeout(2)
                client.recv(65536)  # the request (small: a GET)
                body = b"<html><body><h1>Welcome to the school website</h1></body></html>"
                client.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n"
                               b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
                client.close()
                continue
            self.clients.append(client)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        for client in self.clients:
            client.close()
        self.sock.close()

    def __enter__(self) -> FakeTcpServer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
