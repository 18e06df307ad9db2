"""A bounded crowd of slow clients (slowloris) for the tests and bench/slow_clients.py:
count connections to 127.0.0.1:port, each sending a request line and then one header
byte per tick, reconnecting when the server cuts it, until stop() or `seconds` pass."""

import errno
import socket
import threading
import time

HEAD = b"POST /sms-router/webhook/sms HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "


class SlowClients:
    def __init__(self, port, count, tick=0.5, seconds=30.0, max_connects=20000):
        self.port, self.count, self.tick = port, count, tick
        self.seconds, self.max_connects = seconds, max_connects
        self.connects = 0   # connections opened
        self.cut = 0        # connections the server ended
        self._stop = threading.Event()
        self._socks = {}    # socket -> bytes sent
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        self._stop.set()
        self._thread.join(10)
        for s in list(self._socks):
            s.close()
        self._socks.clear()

    def _open(self):
        if self.connects >= self.max_connects:
            return
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", self.port))
        self._socks[s] = 0
        self.connects += 1

    def _alive(self, s):
        try:
            return s.recv(1, socket.MSG_DONTWAIT) != b""  # an answer: also ended by us
        except BlockingIOError:
            return True
        except OSError as e:
            return e.errno in (errno.ENOTCONN, errno.EAGAIN)

    def _run(self):
        end = time.monotonic() + self.seconds
        for _ in range(self.count):
            self._open()
        while not self._stop.is_set() and time.monotonic() < end:
            for s in list(self._socks):
                if not self._alive(s):
                    s.close()
                    del self._socks[s]
                    self.cut += 1
                    self._open()
                    continue
                try:
                    data = HEAD if self._socks[s] == 0 else b"a"
                    self._socks[s] += s.send(data)
                except (BlockingIOError, InterruptedError):
                    pass  # still connecting, or waiting in the server's accept queue
                except OSError:
                    s.close()
                    del self._socks[s]
                    self.cut += 1
                    self._open()
            self._stop.wait(self.tick)
