"""What every stand-in does once it has its handler: listen on 127.0.0.1 (port 0: a free
one), print {"port": N} on stdout for the test that started it, and serve until stopped."""
import json
from http.server import ThreadingHTTPServer


class Server(ThreadingHTTPServer):
    # listen() backlog: the default 5 drops SYNs when 100 calls arrive at once.
    request_queue_size = 1024
    daemon_threads = True
    allow_reuse_address = True  # a test may bring a stand-in back on the port it had


def serve(handler, port):
    srv = Server(("127.0.0.1", port), handler)
    print(json.dumps({"port": srv.server_address[1]}), flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
