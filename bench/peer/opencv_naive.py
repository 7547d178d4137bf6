#!/usr/bin/python3
"""The peer baseline of issue #5: the naive pipeline a team would write first — one thread per
stream, OpenCV VideoCapture decoding every frame at the source's native rate, OpenCV DNN running
YOLOX-Nano (416², fp32, one net per stream) on every k-th frame, the grid decode and NMS in numpy.
Measured with the same rules as `./ephemera bench`: a run is sustained when no stream is more than
max(one frame interval, 100 ms) behind its live schedule for over 1% of frames and every stream gets
at least 95% of the requested detection rate.

Usage: opencv_naive.py --source FILE --model ONNX [--streams N] [--seconds S] [--detect-fps F] [--find-max]
Prints one JSON object (the best sustained run, with every trial) on stdout; progress on stderr.
Needs Debian's python3-opencv and python3-numpy (the launcher installs them)."""
import argparse, json, os, sys, threading, time
import cv2
import numpy as np

SIZE = 416


def grid_tables(size):
    grids, strides = [], []
    for s in (8, 16, 32):
        n = size // s
        xv, yv = np.meshgrid(np.arange(n), np.arange(n))
        grids.append(np.stack((xv, yv), 2).reshape(-1, 2))
        strides.append(np.full((n * n, 1), s))
    return np.concatenate(grids).astype(np.float32), np.concatenate(strides).astype(np.float32)


GRIDS, STRIDES = grid_tables(SIZE)


def detect(net, img, score_thr=0.1, nms_thr=0.45):
    h, w = img.shape[:2]
    r = min(SIZE / h, SIZE / w)
    nw, nh = int(w * r), int(h * r)
    padded = np.full((SIZE, SIZE, 3), 114, dtype=np.uint8)
    padded[:nh, :nw] = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_LINEAR)
    net.setInput(padded.transpose(2, 0, 1)[None].astype(np.float32))
    out = net.forward()[0]
    xy = (out[:, :2] + GRIDS) * STRIDES
    wh = np.exp(out[:, 2:4]) * STRIDES
    cls = out[:, 5:].argmax(1)
    score = out[:, 4] * out[np.arange(len(out)), 5 + cls]
    m = score >= score_thr
    boxes = np.concatenate([xy[m] - wh[m] / 2, wh[m]], 1) / r
    if not m.any():
        return 0
    # Class-aware NMS by offsetting each class's boxes apart (OpenCV 4.6 has no batched NMS).
    shifted = boxes.copy()
    shifted[:, :2] += cls[m][:, None] * 4096.0
    return len(cv2.dnn.NMSBoxes(shifted.tolist(), score[m].tolist(), score_thr, nms_thr))


def stream(source, model, seconds, detect_fps, start, result):
    net = cv2.dnn.readNetFromONNX(model)
    cap = cv2.VideoCapture(source)
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    interval = 1.0 / fps
    every = max(1, int(round(fps / detect_fps)))
    late_after = max(interval, 0.1)
    frames = late = detections = 0
    latencies = []
    n = 0
    while True:
        due = start + n * interval
        now = time.monotonic()
        if now - start >= seconds:
            break
        if due > now:
            time.sleep(due - now)
        ok, img = cap.read()
        if not ok:  # loop like the engine's bench cameras
            cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, img = cap.read()
            if not ok:
                break
        got = time.monotonic()
        frames += 1
        if got - due > late_after:
            late += 1
        if n % every == 0:
            detect(net, img)
            detections += 1
            latencies.append(time.monotonic() - due)
        n += 1
    result.update(frames=frames, late=late, detections=detections, latencies=latencies)


def run(args, streams):
    start = time.monotonic() + 0.5
    results = [dict() for _ in range(streams)]
    threads = [threading.Thread(target=stream, args=(args.source, args.model, args.seconds, args.detect_fps, start, r)) for r in results]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    frames = sum(r["frames"] for r in results)
    late = sum(r["late"] for r in results)
    min_rate = min(r["detections"] / args.seconds for r in results)
    lat = np.array([x for r in results for x in r["latencies"]]) * 1000
    why = None
    if late > 0.01 * frames:
        why = f"{late} of {frames} frames more than max(one frame interval, 100 ms) behind live"
    elif min_rate < 0.95 * args.detect_fps:
        why = f"slowest stream detected {min_rate:.2f}/s of {args.detect_fps}/s requested"
    out = dict(pipeline="opencv-naive", streams=streams, seconds=args.seconds, sustained=why is None, why_not_sustained=why,
               frames_decoded=frames, late_frames=late, detect_fps_achieved=round(float(np.mean([r["detections"] / args.seconds for r in results])), 3),
               latency_ms=dict(p50=round(float(np.percentile(lat, 50)), 1), p99=round(float(np.percentile(lat, 99)), 1)) if len(lat) else None,
               opencv=cv2.__version__, cores=os.cpu_count())
    print(f"  {streams} streams: sustained {out['sustained']} {why or ''}", file=sys.stderr)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--source", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--streams", type=int, default=1)
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--detect-fps", type=float, default=5)
    p.add_argument("--find-max", action="store_true")
    args = p.parse_args()
    for path in (args.source, args.model):
        if not os.path.exists(path):
            sys.exit(f"opencv_naive.py: {path}: file not found")
    trials = [run(args, args.streams)]
    if args.find_max:
        n = args.streams
        if trials[-1]["sustained"]:
            while True:
                n += 1
                trials.append(run(args, n))
                if not trials[-1]["sustained"]:
                    break
        else:
            while n > 1 and not trials[-1]["sustained"]:
                n -= 1
                trials.append(run(args, n))
    good = [t for t in trials if t["sustained"]]
    best = max(good, key=lambda t: t["streams"]) if good else trials[-1]
    best = dict(best, trials=[{k: t[k] for k in ("streams", "sustained", "why_not_sustained", "detect_fps_achieved")} for t in trials])
    print(json.dumps(best))


if __name__ == "__main__":
    main()
