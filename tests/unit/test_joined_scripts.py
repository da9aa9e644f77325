"""A gevent worker's Lua script calls joined into one round trip (``campaign.queue.JoinedScripts``),
run in a process patched for gevent as the bench's and production's gevent workers are, against
the suite's real Redis: each call gets its own reply or its own error, as if sent alone."""

from __future__ import annotations

import subprocess
import sys

CHECK = r"""
import sys

from gevent import monkey

monkey.patch_all()
import gevent
from flask import Flask
from redis import ConnectionError, Redis, ResponseError

from campaign import queue

URL = sys.argv[1]
SCRIPT = '''
if ARGV[1] == 'fail' then return redis.error_reply('refused ' .. KEYS[1]) end
return {ARGV[1], redis.call('INCR', KEYS[1])}
'''


class Counted(queue.JoinedScripts):
    sent: list[int] = []

    def _send(self):
        self.sent.append(len(self._waiting))
        super()._send()


def together(joined, script, calls):
    '''Each call from a greenlet of its own, all started at once: their replies or errors.'''

    def one(keys, args):
        try:
            return joined.call(script, keys, args)
        except Exception as exc:  # what this call alone was told
            return exc

    greenlets = [gevent.spawn(one, keys, args) for keys, args in calls]
    gevent.joinall(greenlets, raise_error=True)
    return [g.value for g in greenlets]


client = Redis.from_url(URL)
client.flushdb()
script = client.register_script(SCRIPT)
joined = Counted(client)

# Eight requests at once: one pipeline, each its own reply.
replies = together(joined, script, [([f"k{i}"], [f"v{i}"]) for i in range(8)])
assert replies == [[f"v{i}".encode(), 1] for i in range(8)], replies
assert Counted.sent == [8], Counted.sent

# One call's error is that call's alone.
Counted.sent.clear()
replies = together(joined, script, [(["a"], ["x"]), (["b"], ["fail"]), (["c"], ["y"])])
assert replies[0] == [b"x", 1] and replies[2] == [b"y", 1], replies
assert isinstance(replies[1], ResponseError) and "refused b" in str(replies[1]), replies
assert Counted.sent == [3], Counted.sent

# The server lost its scripts (a restart): each call is loaded and sent again, once.
client.script_flush()
replies = together(joined, script, [(["a"], ["x"]), (["d"], ["z"])])
assert replies == [[b"x", 2], [b"z", 1]], replies

# A call made while a pipeline is on its way waits for the next one.
Counted.sent.clear()
first = gevent.spawn(joined.call, script, ["e"], ["1"])
gevent.sleep(0)  # the first call's pipeline starts and waits on its socket
second = gevent.spawn(joined.call, script, ["e"], ["2"])
gevent.joinall([first, second], raise_error=True)
assert sorted([first.value, second.value]) == [[b"1", 1], [b"2", 2]], (first.value, second.value)
assert sum(Counted.sent) == 2, Counted.sent

# One call alone is sent alone, with its own error if it has one.
Counted.sent.clear()
assert joined.call(script, ["g"], ["alone"]) == [b"alone", 1]
try:
    joined.call(script, ["h"], ["fail"])
except ResponseError as exc:
    assert "refused h" in str(exc)
else:
    raise AssertionError("the script's error was not raised")
assert Counted.sent == [1, 1], Counted.sent

# Redis gone: every call of the pipeline is told.
gone = Redis(host="127.0.0.1", port=1, socket_connect_timeout=1, retry_on_error=[])
replies = together(queue.JoinedScripts(gone), script, [(["a"], ["x"]), (["b"], ["y"])])
assert all(isinstance(r, ConnectionError) for r in replies), replies

# run_script(joined=True) takes this path under gevent (one JoinedScripts per app and client).
app = Flask("joined")
app.config["REDIS_URL"] = URL
with app.app_context():
    assert queue.run_script("joined_check", SCRIPT, ["f"], ["w"], joined=True) == [b"w", 1]
    made = app.extensions["groundswell.joined_scripts"]
    assert made.client is app.extensions["groundswell.redis"]
    assert queue.run_script("joined_check", SCRIPT, ["f"], ["w"], joined=True) == [b"w", 2]
    assert app.extensions["groundswell.joined_scripts"] is made
print("ok")
"""


def test_script_calls_of_a_gevent_worker_share_a_round_trip_and_keep_their_own_replies(redis_url):
    done = subprocess.run(
        [sys.executable, "-c", CHECK, redis_url], capture_output=True, text=True, timeout=100
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stdout + done.stderr


def test_without_gevent_a_joined_call_is_sent_alone(app):
    from campaign import queue

    with app.app_context():
        assert queue.run_script("joined_alone", "return ARGV[1]", [], ["alone"], joined=True) == b"alone"
        assert "groundswell.joined_scripts" not in app.extensions
