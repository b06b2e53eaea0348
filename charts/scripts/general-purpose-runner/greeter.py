"""The basicserver greeting server of seed 003, on the standard library only.

GET / answers "<greeting>, <target>!": the target is the first command-line
argument (default "World"), the greeting comes from the GREETING environment
variable (default "Hello"). With args ["Universe"] and GREETING=Hi it answers
"Hi, Universe!". Other paths answer 404.
"""
import os
import sys

from serving import Handler, serve


class Greeter(Handler):
    target = sys.argv[1] if len(sys.argv) > 1 else "World"
    greeting = os.environ.get("GREETING", "Hello")

    def do_GET(self):
        if self.path.split("?", 1)[0] != "/":
            self.send_body(404, "not found\n")
            return
        self.send_body(200, f"{self.greeting}, {self.target}!")

    do_HEAD = do_GET


if __name__ == "__main__":
    sys.exit(serve(Greeter, "greeter"))
