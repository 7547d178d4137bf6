#!/usr/bin/python3
"""A real RTSP server for the reconnect test (Debian's gst-rtsp-server through python3-gi).

Usage: rtsp_server.py PORT  — serves rtsp://127.0.0.1:PORT/test, a live 320x240 25 fps H.264
stream (videotestsrc encoded by x264), prints READY once listening, runs until killed.
"""
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

Gst.init(None)
server = GstRtspServer.RTSPServer()
server.set_address("127.0.0.1")
server.set_service(sys.argv[1])
factory = GstRtspServer.RTSPMediaFactory()
factory.set_launch(
    "( videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate=25/1 "
    "! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=25 "
    "! rtph264pay name=pay0 pt=96 config-interval=1 )")
factory.set_shared(True)
server.get_mount_points().add_factory("/test", factory)
if server.attach(None) == 0:
    print("could not listen on port " + sys.argv[1], flush=True)
    sys.exit(1)
print("READY", flush=True)
GLib.MainLoop().run()
