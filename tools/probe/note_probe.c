// The listener of scripts/play-check: plays one note into a running synth over JACK MIDI and
// records one of its outputs. Two JACK clients in one process (like tools/soak/soak_load.c, so
// the graph has no feedback loop and both run in the synth's cycle, in order):
//
//   note_probe      (midi_out → SYNTH:midi_in) sends a note-on at the start of a cycle, and the
//                   note-off once the recording is complete;
//   note_probe_rec  (in ← SYNTH:out_left, or --port) records from --pre seconds before the
//                   note-on to --seconds after it.
//
// The recording is written as a mono 32-bit float WAV with the note-on exactly --pre seconds in
// (the recorder finds the note-on's frame by the cycles' frame times). It connects to the
// default JACK server (or --server NAME) and never starts one. Exits nonzero with one line on
// stderr when a port is missing or cannot be connected, the server goes away, or the recording
// is not complete, within --timeout seconds.
//
// Usage: note_probe --out FILE.wav [--synth CLIENT (timbred)] [--port PORT (out_left)]
//                   [--note N (69)] [--velocity N (100)] [--channel 1-16 (1)]
//                   [--pre S (0.25)] [--seconds S (1.5)] [--timeout S (10)] [--server NAME]
//
// Both process callbacks only touch preallocated memory and atomics.
#include <jack/jack.h>
#include <jack/midiport.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static jack_client_t *midi_client, *rec_client;
static jack_port_t *midi_out, *rec_in;

static const char *server = NULL, *synth = "timbred", *port_name = "out_left", *out_path = NULL;
static int note = 69, velocity = 100, channel = 1;
static double pre_s = 0.25, seconds = 1.5, timeout_s = 10;

// control (main thread → callbacks) and results (callbacks → main thread)
static _Atomic int rec_go, note_go, off_go, server_gone;
static _Atomic int note_sent, off_sent;
static _Atomic uint32_t note_frame;       // frame time of the cycle whose offset 0 holds the note-on
static _Atomic long long note_index = -1; // where in buf the note-on's frame is (set by the recorder)
static _Atomic long long recorded;        // frames in buf
static _Atomic long long clock_gaps;

static float *buf;
static long long capacity;
static uint32_t rec_expected;
static int rec_started;

static void fail(const char *fmt, const char *a, const char *b) {
    fprintf(stderr, "note_probe: ");
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
    if (midi_client) jack_client_close(midi_client);
    if (rec_client) jack_client_close(rec_client);
    exit(1);
}

static int send_cycle(jack_nframes_t nframes, void *arg) {
    (void)arg;
    void *out = jack_port_get_buffer(midi_out, nframes);
    jack_midi_clear_buffer(out);
    if (atomic_load(&note_go) && !atomic_load(&note_sent)) {
        uint8_t *d = jack_midi_event_reserve(out, 0, 3);
        if (d) {
            d[0] = (uint8_t)(0x90 | (channel - 1)); d[1] = (uint8_t)note; d[2] = (uint8_t)velocity;
            atomic_store(&note_frame, jack_last_frame_time(midi_client));
            atomic_store(&note_sent, 1);
        }
    } else if (atomic_load(&off_go) && !atomic_load(&off_sent)) {
        uint8_t *d = jack_midi_event_reserve(out, 0, 3);
        if (d) {
            d[0] = (uint8_t)(0x80 | (channel - 1)); d[1] = (uint8_t)note; d[2] = 0;
            atomic_store(&off_sent, 1);
        }
    }
    return 0;
}

static int receive_cycle(jack_nframes_t nframes, void *arg) {
    (void)arg;
    if (!atomic_load(&rec_go)) return 0;
    const float *in = jack_port_get_buffer(rec_in, nframes);
    uint32_t cycle = jack_last_frame_time(rec_client);
    if (!rec_started) {
        rec_started = 1;
        rec_expected = cycle;
    }
    if (cycle != rec_expected) atomic_fetch_add(&clock_gaps, 1);
    rec_expected = cycle + nframes;
    long long have = atomic_load(&recorded);
    // The sender runs before the synth and the synth before this client, in the same cycle: the
    // cycle that carries the note-on is this one (by frame time, so that an xrun's skipped frames
    // cannot shift the note-on in the recording).
    if (atomic_load(&note_index) < 0 && atomic_load(&note_sent)) {
        int32_t d = (int32_t)(atomic_load(&note_frame) - cycle);
        if (d >= 0 && d < (int32_t)nframes) atomic_store(&note_index, have + d);
        else if (d < 0) atomic_store(&note_index, have);  // not seen in its own cycle: now at the latest
    }
    long long n = capacity - have < (long long)nframes ? capacity - have : (long long)nframes;
    if (n > 0) {
        memcpy(buf + have, in, (size_t)n * sizeof *buf);
        atomic_store(&recorded, have + n);
    }
    return 0;
}

static void on_shutdown(void *arg) { (void)arg; atomic_store(&server_gone, 1); }

static jack_client_t *open_client(const char *name) {
    jack_status_t status;
    jack_options_t options = JackNoStartServer | JackUseExactName | (server ? JackServerName : 0);
    jack_client_t *c = server ? jack_client_open(name, options, &status, server) : jack_client_open(name, options, &status);
    if (!c) {
        char s[32];
        snprintf(s, sizeof s, "0x%x", (unsigned)status);
        fail("cannot open JACK client %s (status %s; is a JACK server running?)", name, s);
    }
    jack_on_shutdown(c, on_shutdown, NULL);
    return c;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

// Connects from -> to, retrying until the deadline: the synth's ports are listed as soon as it
// registers them, but JACK refuses connections to a client that is not active yet.
static void connect_ports(const char *from, const char *to, double deadline) {
    for (;;) {
        int r = -1;
        if (jack_port_by_name(midi_client, from) && jack_port_by_name(midi_client, to)) {
            r = jack_connect(midi_client, from, to);
            if (r == 0 || r == EEXIST) return;
        }
        if (atomic_load(&server_gone)) fail("the JACK server went away while connecting %s -> %s", from, to);
        if (now() > deadline) {
            if (!jack_port_by_name(midi_client, from)) fail("no JACK port %s%s", from, "");
            if (!jack_port_by_name(midi_client, to)) fail("no JACK port %s%s", to, "");
            fail("cannot connect %s -> %s", from, to);
        }
        usleep(50000);
    }
}

// Waits until done() or fails with what after the deadline or when the server goes away.
static void wait_for(int (*done)(void), double deadline, const char *what) {
    while (!done()) {
        if (atomic_load(&server_gone)) fail("the JACK server went away while %s%s", what, "");
        if (now() > deadline) fail("timed out while %s%s", what, "");
        usleep(5000);
    }
}

static long long pre_frames, post_frames;
static int pre_done(void) { return atomic_load(&recorded) >= pre_frames; }
static int note_done(void) { return atomic_load(&note_sent); }
static int rec_done(void) {
    long long at = atomic_load(&note_index);
    return at >= 0 && atomic_load(&recorded) >= at + post_frames;
}
static int off_done(void) { return atomic_load(&off_sent); }

static void put32(FILE *f, uint32_t v) { uint8_t b[4] = {v, v >> 8, v >> 16, v >> 24}; fwrite(b, 1, 4, f); }
static void put16(FILE *f, uint16_t v) { uint8_t b[2] = {v, v >> 8}; fwrite(b, 1, 2, f); }

static void write_wav(const char *path, const float *x, long long n, uint32_t rate) {
    FILE *f = fopen(path, "wb");
    if (!f) fail("cannot write %s: %s", path, strerror(errno));
    uint32_t bytes = (uint32_t)(n * 4);
    fwrite("RIFF", 1, 4, f); put32(f, 36 + bytes); fwrite("WAVE", 1, 4, f);
    fwrite("fmt ", 1, 4, f); put32(f, 16); put16(f, 3 /* IEEE float */); put16(f, 1);
    put32(f, rate); put32(f, rate * 4); put16(f, 4); put16(f, 32);
    fwrite("data", 1, 4, f); put32(f, bytes);
    for (long long i = 0; i < n; i++) {  // little-endian float32
        uint32_t u;
        memcpy(&u, &x[i], 4);
        put32(f, u);
    }
    if (fclose(f) != 0) fail("cannot write %s: %s", path, strerror(errno));
}

static void usage(void) {
    fprintf(stderr, "usage: note_probe --out FILE.wav [--synth CLIENT] [--port PORT] [--note N] [--velocity N] [--channel 1-16]\n"
                    "                  [--pre S] [--seconds S] [--timeout S] [--server NAME]\n");
    exit(2);
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) usage();
        if (!strcmp(a, "--server")) server = v;
        else if (!strcmp(a, "--synth")) synth = v;
        else if (!strcmp(a, "--port")) port_name = v;
        else if (!strcmp(a, "--out")) out_path = v;
        else if (!strcmp(a, "--note")) note = atoi(v);
        else if (!strcmp(a, "--velocity")) velocity = atoi(v);
        else if (!strcmp(a, "--channel")) channel = atoi(v);
        else if (!strcmp(a, "--pre")) pre_s = atof(v);
        else if (!strcmp(a, "--seconds")) seconds = atof(v);
        else if (!strcmp(a, "--timeout")) timeout_s = atof(v);
        else usage();
        i++;
    }
    if (!out_path || note < 0 || note > 127 || velocity < 1 || velocity > 127 || channel < 1 || channel > 16
        || pre_s < 0 || seconds <= 0 || timeout_s <= 0)
        usage();
    double deadline = now() + timeout_s;

    midi_client = open_client("note_probe");
    rec_client = open_client("note_probe_rec");
    uint32_t rate = jack_get_sample_rate(rec_client);
    pre_frames = (long long)(pre_s * rate);
    post_frames = (long long)(seconds * rate);
    capacity = pre_frames + post_frames + 2LL * rate;  // slack for the cycles before the note-on
    buf = calloc((size_t)capacity, sizeof *buf);
    if (!buf) fail("out of memory%s%s", "", "");
    midi_out = jack_port_register(midi_client, "midi_out", JACK_DEFAULT_MIDI_TYPE, JackPortIsOutput, 0);
    rec_in = jack_port_register(rec_client, "in", JACK_DEFAULT_AUDIO_TYPE, JackPortIsInput, 0);
    if (!midi_out || !rec_in) fail("cannot register ports%s%s", "", "");
    jack_set_process_callback(midi_client, send_cycle, NULL);
    jack_set_process_callback(rec_client, receive_cycle, NULL);
    if (jack_activate(midi_client) || jack_activate(rec_client)) fail("cannot activate the clients%s%s", "", "");

    char synth_in[320], synth_out[320];
    snprintf(synth_in, sizeof synth_in, "%s:midi_in", synth);
    snprintf(synth_out, sizeof synth_out, "%s:%s", synth, port_name);
    connect_ports("note_probe:midi_out", synth_in, deadline);
    connect_ports(synth_out, "note_probe_rec:in", deadline);

    // a moment for the new graph to settle, the pre-roll, the note, the rest
    usleep(300000);
    atomic_store(&rec_go, 1);
    wait_for(pre_done, deadline, "recording before the note");
    atomic_store(&note_go, 1);
    wait_for(note_done, deadline, "sending the note-on");
    wait_for(rec_done, deadline, "recording the note");
    atomic_store(&off_go, 1);
    wait_for(off_done, deadline, "sending the note-off");
    usleep(20000);
    jack_deactivate(midi_client);
    jack_deactivate(rec_client);

    write_wav(out_path, buf + atomic_load(&note_index) - pre_frames, pre_frames + post_frames, rate);
    printf("note_probe: note %d velocity %d on channel %d -> %s; recorded %s (%.2f s before the note-on, %.2f s after) at %u Hz to %s%s\n",
           note, velocity, channel, synth_in, synth_out, pre_s, seconds, rate, out_path,
           atomic_load(&clock_gaps) ? " (warning: cycles were missing from the recording: an xrun)" : "");
    jack_client_close(midi_client);
    jack_client_close(rec_client);
    return 0;
}
