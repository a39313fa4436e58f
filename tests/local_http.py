"""A small HTTP server on 127.0.0.1 for download tests: Range requests with ETag and If-Range, and
the faults a download must survive (transfers cut short, ranges served from the wrong offset,
bodies without Content-Length, no validators)."""

import hashlib
import http.server
import threading


class Server:
    """Serves ``files`` (name -> bytes) with Range and If-Range support and an ETag (the content's
    sha256) unless ``validators`` is false. Faults, each for the next transfer of a file (once):
    ``cut[name] = n`` ends it after n bytes; ``wrong_offset[name] = k`` answers a range with a 206
    whose Content-Range and body start at byte k; ``no_length[name] = n`` sends n bytes with no
    Content-Length. ``requests`` logs (path, Range header)."""

    def __init__(self):
        self.files, self.cut, self.wrong_offset, self.no_length, self.requests = {}, {}, {}, {}, []
        self.validators = True
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                name = self.path.lstrip("/")
                owner.requests.append((name, self.headers.get("Range")))
                if name not in owner.files:
                    self.send_error(404)
                    return
                body, start = owner.files[name], 0
                etag = f'"{hashlib.sha256(body).hexdigest()[:16]}"'
                if_range = self.headers.get("If-Range")
                if self.headers.get("Range") and (if_range is None or if_range == etag):
                    start = int(self.headers["Range"].removeprefix("bytes=").split("-")[0])
                    if start >= len(body):
                        self.send_error(416)
                        return
                    start = owner.wrong_offset.pop(name, start)
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                if owner.validators:
                    self.send_header("ETag", etag)
                end = len(body)
                if name in owner.no_length:
                    end = start + owner.no_length.pop(name)
                else:
                    self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                if name in owner.cut:
                    end = start + owner.cut.pop(name)
                self.wfile.write(body[start:end])

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
