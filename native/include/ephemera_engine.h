/*
 * ephemera_engine.h — the C ABI of the whole Ephemera engine, for hosts that are not .NET.
 *
 * What it does: runs the engine of src/Ephemera (cameras under their purpose manifests, detector,
 * tracker, purpose analytics, privacy gates, SQLite store, signed audit) inside your process and
 * hands you the released records as JSON. It never hands out pixels: every record passed its
 * manifest's gates, exactly as EphemeraEngine.ReadAsync gives them to a .NET host.
 *
 * The library: ephemera_engine.so, a NativeAOT build of src/Ephemera.Native
 *     dotnet publish src/Ephemera.Native -c Release -r linux-x64
 * Its publish folder also holds libephemera_native.so (the decode core of ephemera.h),
 * libonnxruntime.so and libe_sqlite3.so; ephemera_engine.so finds them beside itself (RUNPATH
 * $ORIGIN), so keep the folder together. Link with  -L<dir> -l:ephemera_engine.so -Wl,-rpath,<dir>.
 * The engine finds models/models.yaml and the fetched weights (var/models) under EPHEMERA_HOME
 * (the repository root; `./ephemera models fetch` fills var/models). See docs/c-abi.md.
 *
 * Return codes: the convention of ephemera.h. Non-negative values are outcomes, negative values
 * are failures; EPH_OK and EPH_ERR_INVALID_ARG are the ones of eph_status, the others below are
 * the engine's own (they do not overlap eph_status).
 *
 * Errors: every failing call sets a thread-local text that eph_engine_last_error() returns (the
 * decode core's eph_last_error() is not touched: the engine reports the core's failures through
 * its own text). No managed exception ever crosses this boundary: anything unexpected is
 * EPH_ERR_INTERNAL with the exception's type and message.
 *
 * Threading contract:
 *   - Every function may be called from any thread; one engine may be used from several threads.
 *   - eph_engine_next_record calls on one engine are serialised inside (one reader per engine);
 *     they may run concurrently with add/remove/stop/stats on other threads: a reader blocked in
 *     next_record wakes when eph_engine_stop completes the reader.
 *   - eph_engine_destroy must not run concurrently with any other call on the same engine, and
 *     the handle must not be used after it.
 *   - JSON strings are UTF-8 and NUL-terminated; the engine copies what it needs before returning.
 *
 * Ownership in plain words:
 *   - eph_engine_create gives you an engine; you must eph_engine_destroy it exactly once.
 *   - Strings you pass stay yours. Buffers you pass (next_record, stats) stay yours; the engine
 *     writes into them and keeps no pointer.
 *   - eph_engine_last_error() returns memory owned by the library, valid on the calling thread
 *     until the next failing eph_engine_* call on that thread. Do not free it.
 */
#ifndef EPHEMERA_ENGINE_H
#define EPHEMERA_ENGINE_H

#include <stddef.h>

#include "ephemera.h" /* EPH_API, eph_status (EPH_OK, EPH_ERR_INVALID_ARG) */

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------ */
/* Status codes of the engine ABI (in addition to EPH_OK = 0 and EPH_ERR_INVALID_ARG = -1).      */
/* ------------------------------------------------------------------------------------------ */
typedef enum eph_engine_status {
    EPH_ERR_CONFIG           = -20, /* invalid JSON, an unknown key, a wrong type or a value out of
                                       range; the text is "key: problem"                           */
    EPH_ERR_REFUSED          = -21, /* the camera was refused: the text names the camera, the
                                       guidebook requirement id in [brackets] (BP-a, M2, H3, …; "-"
                                       when none applies, e.g. a duplicate id) and the reason      */
    EPH_ERR_BUFFER_TOO_SMALL = -22, /* the buffer cannot hold the JSON and its NUL; the text says how
                                       many bytes are needed; nothing is lost (call again)         */
    EPH_ERR_STOPPED          = -23, /* the engine was stopped: no more records (next_record), or it
                                       cannot start or take cameras any more                        */
    EPH_ERR_NOT_FOUND        = -24, /* no running camera has that id                                */
    EPH_ERR_INTERNAL         = -25, /* an unexpected failure inside the engine (text: type, message) */
} eph_engine_status;

/* Opaque engine (a handle to the managed engine and its one record reader). */
typedef struct eph_engine eph_engine;

/* The calling thread's last error text ("" when none yet). Owned by the library; valid until the
 * next failing eph_engine_* call on this thread. Never NULL. */
EPH_API const char *eph_engine_last_error(void);

/* Creates an engine: opens (creates) the store; the detector loads with the first camera.
 * json_options: a JSON object with the engine's options, snake_case as in the YAML config's
 *   engine: section, or NULL / "" / "{}" for the defaults:
 *     model (string), provider ("cpu", "cuda", "tensorrt", "directml", "openvino"), input_size,
 *     intra_op_threads, parallel_runs, max_batch, max_cameras, reader_capacity, pixel_stage_slots,
 *     metrics_port (integers), detect_fps, score_threshold, audit_interval_seconds (numbers),
 *     store, audit_key, audit_witness (paths), reader_drop_policy ("drop_oldest" | "drop_newest").
 *   An unknown key is an error.
 * The engine's one record reader is subscribed here: no record released after create is missed
 * (up to reader_capacity waiting records; beyond that reader_drop_policy applies, counted in
 * the statistics' reader_drops).
 * Ownership: *out receives an engine you must eph_engine_destroy; NULL on failure.
 * Returns EPH_OK, EPH_ERR_INVALID_ARG (out NULL), EPH_ERR_CONFIG, or EPH_ERR_INTERNAL (e.g. the store
 * could not be opened). */
EPH_API int eph_engine_create(const char *json_options, eph_engine **out);

/* Adds a camera under its purpose manifest, before or after eph_engine_start (added before, it
 * starts with the engine). Blocks until the camera is admitted or refused (the first camera loads
 * the detector: seconds).
 * json_camera: {"id": "...", "source": "file path | rtsp:// | http(s)://",
 *               "manifest_path": "x.yaml"  or  "manifest_yaml": "<YAML text>"   (exactly one),
 *               "loop": false, "paced": true, "detect_fps": 5, "priority": 1,
 *               "lines": [{"name": "l", "x1": 0, "y1": 0, "x2": 10, "y2": 10}]   (or "points": [x1,y1,x2,y2]),
 *               "zones": [{"name": "z", "polygon": [x,y, x,y, x,y], "floor": false, "shelf_front": false}],
 *               "calibration": [{"image": [x,y], "floor": [X,Y]}], "floor_size": [w, d],
 *               "icon_interval_seconds": 5}
 *   The id must be the manifest's camera_id or match one of its cameras: patterns.
 * Returns EPH_OK; EPH_ERR_REFUSED (missing/invalid manifest, not yet allowed to start, id already
 * running — the refused camera never decodes a frame); EPH_ERR_CONFIG; EPH_ERR_STOPPED (after stop);
 * EPH_ERR_INVALID_ARG; EPH_ERR_INTERNAL. */
EPH_API int eph_engine_add_camera(eph_engine *engine, const char *json_camera);

/* Removes a running camera while the others go on: its last frame is wiped, its open bins
 * published, its audit closed. Blocks until done (at most about 10 s).
 * Returns EPH_OK, EPH_ERR_NOT_FOUND, EPH_ERR_INVALID_ARG, EPH_ERR_INTERNAL. */
EPH_API int eph_engine_remove_camera(eph_engine *engine, const char *camera_id);

/* Starts the cameras added so far (later ones start as they are added). Idempotent while running.
 * Returns EPH_OK, EPH_ERR_STOPPED (the engine was stopped: create a new one), EPH_ERR_INVALID_ARG,
 * EPH_ERR_INTERNAL. */
EPH_API int eph_engine_start(eph_engine *engine);

/* Stops every camera and drains: frames wiped, last bins published, final audit written, then
 * the record reader completes (next_record returns what remains, then EPH_ERR_STOPPED). Blocks
 * until drained. Idempotent. Returns EPH_OK, EPH_ERR_INVALID_ARG, EPH_ERR_INTERNAL. */
EPH_API int eph_engine_stop(eph_engine *engine);

/* Takes the next released record as one JSON object, NUL-terminated, into buf[0..len):
 *   {"camera": "...", "class": "count", "bin_start": "...", "bin_seconds": 900, "manifest": "...",
 *    "payload": {...}}
 * timeout_ms: how long to wait for a record (0 = do not wait, < 0 = wait until one comes or the
 * engine stops).
 * Returns the bytes written without the NUL (> 0); 0 when no record came within timeout_ms;
 * EPH_ERR_STOPPED when the engine stopped and every record was taken; EPH_ERR_BUFFER_TOO_SMALL
 * when len cannot hold this record (the text gives the size needed; the record is kept for the
 * next call); EPH_ERR_INVALID_ARG. Calls on one engine are serialised (one reader). */
EPH_API int eph_engine_next_record(eph_engine *engine, char *buf, size_t len, int timeout_ms);

/* Writes the statistics now as one JSON object, NUL-terminated, into buf[0..len):
 *   {"running", "uptime_seconds", "records_published", "reader_drops", "sink_failures",
 *    "store_healthy", "store_error",
 *    "pixels": {"allocated", "wiped", "in_use", "leaked", "lifetime_max_ms",
 *               "engine_held": {"p50_ms", "p99_ms", "max_ms"}, "decoder_held": {...}},
 *    "cameras": [{"id", "state", "error", "frames_decoded", "frames_destroyed", ...}]}
 * "pixels" is the process-wide pixel ledger of the decode core (every engine in the process):
 * once every camera stopped, allocated == wiped and leaked == 0.
 * Returns the bytes written without the NUL; EPH_ERR_BUFFER_TOO_SMALL (the text gives the size
 * needed; 4096 bytes hold a few cameras); EPH_ERR_INVALID_ARG; EPH_ERR_INTERNAL. */
EPH_API int eph_engine_stats(eph_engine *engine, char *buf, size_t len);

/* Stops the engine if it runs (draining, as eph_engine_stop), releases the store and the detector,
 * and frees the engine. NULL is a no-op. Not concurrently with any other call on this engine. */
EPH_API void eph_engine_destroy(eph_engine *engine);

#ifdef __cplusplus
}
#endif

#endif /* EPHEMERA_ENGINE_H */
