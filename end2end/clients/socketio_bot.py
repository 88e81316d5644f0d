"""A bot on the official Python Socket.IO client (python-socketio), driven by the Rust tests.

    socketio_bot.py URL TOKEN ROOM_ID TRANSPORT...

It does what a bot written against API.md would do, over the given transports (`polling`,
`websocket`), and prints one JSON object of what the server answered; the Rust test asserts on it.
It never decides pass or fail itself, so a wrong answer cannot hide in here.
"""

import json
import sys
import threading

import socketio

WAIT_S = 10


def run(url, token, room_id, transports):
    out = {}
    got_message = threading.Event()
    got_error = threading.Event()
    received, errors, refusals = [], [], []

    sio = socketio.Client(reconnection=False)

    @sio.on("newMessage")
    def on_new_message(message):
        received.append(message)
        got_message.set()

    @sio.on("error")
    def on_error(body):
        errors.append(body)
        got_error.set()

    sio.connect(url, auth={"token": token}, transports=transports, wait_timeout=WAIT_S)
    out["transport"] = sio.transport()
    out["join"] = sio.call("joinRoom", {"roomId": room_id}, timeout=WAIT_S)
    out["send"] = sio.call(
        "sendMessage",
        {"roomId": room_id, "text": "hello from python", "clientId": "py-" + "-".join(transports)},
        timeout=WAIT_S,
    )
    got_message.wait(WAIT_S)
    out["received"] = received[:]
    out["not_an_object"] = sio.call("sendMessage", [room_id, "text"], timeout=WAIT_S)
    # No callback: the failure must come back as an `error` event.
    sio.emit("sendMessage", {"roomId": room_id, "text": ""})
    got_error.wait(WAIT_S)
    out["errors"] = errors[:]
    sio.disconnect()

    refused = socketio.Client(reconnection=False)
    refused.on("connect_error", lambda data: refusals.append(data))
    try:
        refused.connect(url, auth={"token": "not-a-token"}, transports=transports, wait_timeout=WAIT_S)
        out["forged_token_connected"] = True
        refused.disconnect()
    except socketio.exceptions.ConnectionError:
        out["forged_token_connected"] = False
    out["refusals"] = refusals
    return out


if __name__ == "__main__":
    url, token, room_id, *transports = sys.argv[1:]
    print(json.dumps(run(url, token, int(room_id), transports)))
