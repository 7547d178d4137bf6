#!/usr/bin/env python3
"""Runs a peer tracker from its authors' code on a MOTChallenge detection file; writes MOTChallenge results.

The trackers' code is not in this repository (see README.md beside this file for where to get each
and the commit the figures were measured with). Point --code at the folder that holds the files:

  run_peer.py --tracker bytetrack --code /tmp/peers/bytetrack --detections det.txt --seqinfo seqinfo.ini --output res.txt
  run_peer.py --tracker ocsort    --code /tmp/peers/ocsort    ...
  run_peer.py --tracker botsort   --code /tmp/peers/botsort   ...   (motion only: no ReID, CMC off)

Every peer gets the same input as `ephemera track`: the file's boxes and scores (rows starting with '#'
skipped), called once per frame (empty frames included), and the same optional offline gap filling
(--interpolate N, linear, as the authors' own tools/interpolation.py does for their MOT17 results).
Boxes wider than 1.6 x their height and smaller than 10 px² are dropped from the output, as the
authors' MOT evaluation scripts do (--no-vertical-filter keeps them).
"""
import argparse, configparser, sys, types
from collections import defaultdict
import numpy as np

def read_dets(path):
    by_frame = defaultdict(list)
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith('#'):
                continue
            v = [float(x) for x in line.split(',')]
            fr, x, y, w, h, s = int(v[0]), v[2], v[3], v[4], v[5], v[6]
            by_frame[fr].append([x, y, x + w, y + h, s])
    return by_frame

def interpolate(rows, max_gap):
    by_id = defaultdict(list)
    for r in rows:
        by_id[r[1]].append(r)
    out = list(rows)
    for tid, rs in by_id.items():
        rs.sort()
        for a, b in zip(rs, rs[1:]):
            gap = b[0] - a[0] - 1
            if 1 <= gap <= max_gap:
                for k in range(1, gap + 1):
                    t = k / (gap + 1)
                    out.append((a[0] + k, tid, *[a[i] + t * (b[i] - a[i]) for i in range(2, 6)]))
    return sorted(out)

def main():
    p = argparse.ArgumentParser()
    p.add_argument('--tracker', required=True, choices=['bytetrack', 'ocsort', 'botsort'])
    p.add_argument('--code', required=True)
    p.add_argument('--detections', required=True)
    p.add_argument('--seqinfo', required=True)
    p.add_argument('--output', required=True)
    p.add_argument('--track-thresh', type=float, default=0.6, help='high/new-track score split (ByteTrack track_thresh, OC-SORT det_thresh)')
    p.add_argument('--match-thresh', type=float, default=0.8)
    p.add_argument('--iou', type=float, default=0.3, help='OC-SORT iou_threshold')
    p.add_argument('--use-byte', action='store_true', help='OC-SORT: BYTE second stage')
    p.add_argument('--min-hits', type=int, default=3)
    p.add_argument('--interpolate', type=int, default=0)
    p.add_argument('--no-vertical-filter', action='store_true')
    a = p.parse_args()
    ini = configparser.ConfigParser(); ini.read(a.seqinfo)
    seq = ini['Sequence']
    fps, length = float(seq['frameRate']), int(seq['seqLength'])
    img = (int(seq['imHeight']), int(seq['imWidth']))
    sys.path.insert(0, a.code)
    dets = read_dets(a.detections)
    rows = []
    if a.tracker == 'bytetrack':
        from byte_tracker import BYTETracker
        args = types.SimpleNamespace(track_thresh=a.track_thresh, track_buffer=30, match_thresh=a.match_thresh, mot20=False)
        tr = BYTETracker(args, frame_rate=fps)
        for fr in range(1, length + 1):
            d = np.array(dets.get(fr, []), dtype=np.float64).reshape(-1, 5)
            for t in tr.update(d, img, img):
                x, y, w, h = t.tlwh
                rows.append((fr, t.track_id, x, y, w, h))
    elif a.tracker == 'ocsort':
        from ocsort import OCSort
        tr = OCSort(det_thresh=a.track_thresh, iou_threshold=a.iou, use_byte=a.use_byte, min_hits=a.min_hits)
        for fr in range(1, length + 1):
            d = np.array(dets.get(fr, []), dtype=np.float64).reshape(-1, 5)
            for t in tr.update(d, img, img):
                rows.append((fr, int(t[4]), t[0], t[1], t[2] - t[0], t[3] - t[1]))
    else:
        from bot_sort import BoTSORT
        args = types.SimpleNamespace(track_high_thresh=a.track_thresh, track_low_thresh=0.1, new_track_thresh=a.track_thresh + 0.1,
                                     track_buffer=30, match_thresh=a.match_thresh, proximity_thresh=0.5, appearance_thresh=0.25,
                                     with_reid=False, cmc_method='none', name='', ablation=False, mot20=False)
        tr = BoTSORT(args, frame_rate=fps)
        for fr in range(1, length + 1):
            d = np.array(dets.get(fr, []), dtype=np.float64).reshape(-1, 5)
            d = np.concatenate([d, np.zeros((len(d), 1))], axis=1)  # class column
            for t in tr.update(d, None):
                x, y, w, h = t.tlwh
                rows.append((fr, t.track_id, x, y, w, h))
    if not a.no_vertical_filter:
        rows = [r for r in rows if r[4] * r[5] > 10 and not r[4] / r[5] > 1.6]
    if a.interpolate > 0:
        rows = interpolate(rows, a.interpolate)
    with open(a.output, 'w') as f:
        for r in rows:
            f.write(f"{r[0]},{r[1]},{r[2]:.2f},{r[3]:.2f},{r[4]:.2f},{r[5]:.2f},1,-1,-1,-1\n")

if __name__ == '__main__':
    main()
