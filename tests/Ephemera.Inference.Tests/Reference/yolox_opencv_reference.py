#!/usr/bin/python3
"""Independent YOLOX reference: OpenCV decodes the video to BGR, cv2.resize (INTER_LINEAR) letterboxes
(scale r = min(S/h, S/w), top-left, pad 114), OpenCV DNN runs the ONNX graph, numpy decodes the grid
(YOLOX demo rules: best class, score = obj x cls) and runs class-aware greedy NMS.
Usage: yolox_opencv_reference.py VIDEO MODEL FRAMES(comma list) SIZE SCORE NMS
Prints one JSON object per requested frame: {"frame":i,"dets":[{"cls":c,"score":s,"box":[x,y,w,h]}]}."""
import json, sys
import cv2
import numpy as np

video, model, frames, size, score_thr, nms_thr = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])
wanted = sorted(int(f) for f in frames.split(","))
net = cv2.dnn.readNetFromONNX(model)

grids, strides = [], []
for s in (8, 16, 32):
    hs, ws = size // s, size // s
    xv, yv = np.meshgrid(np.arange(ws), np.arange(hs))
    grids.append(np.stack((xv, yv), 2).reshape(-1, 2))
    strides.append(np.full((hs * ws, 1), s))
grids = np.concatenate(grids).astype(np.float32)
strides = np.concatenate(strides).astype(np.float32)

def nms(boxes, scores, thr):
    order = scores.argsort()[::-1]
    keep = []
    while order.size:
        i = order[0]; keep.append(i)
        xx1 = np.maximum(boxes[i, 0], boxes[order[1:], 0]); yy1 = np.maximum(boxes[i, 1], boxes[order[1:], 1])
        xx2 = np.minimum(boxes[i, 2], boxes[order[1:], 2]); yy2 = np.minimum(boxes[i, 3], boxes[order[1:], 3])
        inter = np.maximum(0, xx2 - xx1) * np.maximum(0, yy2 - yy1)
        area = lambda b: (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
        iou = inter / (area(boxes[i:i + 1]) + area(boxes[order[1:]]) - inter)
        order = order[1:][iou <= thr]
    return keep

cap = cv2.VideoCapture(video)
index = -1
while wanted:
    ok, img = cap.read()
    if not ok:
        break
    index += 1
    if index != wanted[0]:
        continue
    wanted.pop(0)
    h, w = img.shape[:2]
    r = min(size / h, size / w)
    nw, nh = int(w * r), int(h * r)
    padded = np.full((size, size, 3), 114, dtype=np.uint8)
    padded[:nh, :nw] = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_LINEAR)
    blob = padded.transpose(2, 0, 1)[None].astype(np.float32)
    net.setInput(blob)
    out = net.forward()[0]
    xy = (out[:, :2] + grids) * strides
    wh = np.exp(out[:, 2:4]) * strides
    cls = out[:, 5:].argmax(1)
    score = out[:, 4] * out[np.arange(len(out)), 5 + cls]
    m = score >= score_thr
    xy, wh, cls, score = xy[m], wh[m], cls[m], score[m]
    boxes = np.concatenate([xy - wh / 2, xy + wh / 2], 1) / r
    dets = []
    for c in np.unique(cls):
        idx = np.where(cls == c)[0]
        for k in nms(boxes[idx], score[idx], nms_thr):
            x1, y1, x2, y2 = boxes[idx[k]]
            x1, x2 = np.clip([x1, x2], 0, w); y1, y2 = np.clip([y1, y2], 0, h)
            if x2 <= x1 or y2 <= y1:
                continue
            dets.append({"cls": int(c), "score": float(score[idx[k]]), "box": [float(x1), float(y1), float(x2 - x1), float(y2 - y1)]})
    print(json.dumps({"frame": index, "dets": dets}), flush=True)
