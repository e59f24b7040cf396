// The MIDI load and the listener of scripts/soak: two JACK clients in one process.
//
//   soak_midi  (midi_out → the synth's midi_in) plays, from its own process callback, MIDI that
//              keeps every voice busy: overlapping chords, fast repeated notes, an arpeggio with
//              long notes, a sustain pedal held for seconds at a time (far more notes than the
//              polyphony: voices are stolen all the time), every mapped controller moving
//              (CC 1, 7, 11, 70-77, 91, channel pressure, pitch bend, sostenuto), bank select
//              and program changes every few seconds, and an all-notes-off now and then.
//   soak_rec   (in_left/in_right ← the synth's outputs) measures what comes out: the level of
//              every second, the peak, non-finite samples, and cycles missing from its clock.
//
// With --baseline the clients run unconnected (the reference period without the synth); with
// --spin-us N as well, soak_midi's callback busy-waits N us every cycle: a stand-in with the
// synth's duty cycle, to measure how often this machine alone makes such a client miss its
// deadline (preemption, a stolen virtual CPU) — the control for attributing xruns.
// Runs for --seconds or until SIGTERM/SIGINT, then writes key=value lines to --report.
//
// Both process callbacks only touch preallocated memory and atomics.
#include <jack/jack.h>
#include <jack/midiport.h>

#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_SECONDS 100000
#define MAX_PENDING 1024

struct pending { uint32_t frame; uint8_t note; };

static jack_client_t *midi_client, *rec_client;
static jack_port_t *midi_out, *in_left, *in_right;
static uint32_t rate = 48000;

// options
static const char *server = NULL, *synth = "timbred", *report_path = NULL;
static double seconds = 600, program_interval = 4;
static int polyphony = 32, programs = 18, baseline = 0;
static double spin_us = 0;
static _Atomic long long spin_cycles, spin_late, spin_busy_ns;

// sender state (process thread only)
static int started;
static uint32_t start_frame;
static uint64_t rng = 0x9E3779B97F4A7C15ull;
static struct pending offs[MAX_PENDING];
static int n_offs;
static uint32_t next_chord, next_repeat, next_arp, next_cc, next_program, next_pedal, next_panic;
static int arp_step, arp_dir = 1, pedal_down, program_index, repeat_on;
static _Atomic long long notes_sent, events_sent, programs_sent, events_dropped;
static _Atomic int max_pending;

// listener state
static double *second_energy;   // sum of squares (both channels) per second of the run
static float *second_peak;
static _Atomic long long recorded_frames, nonfinite, clock_gaps;
static uint32_t rec_first, rec_expected;
static int rec_started;

static _Atomic long long xruns;
static volatile sig_atomic_t stop;

static uint32_t rnd(uint32_t n) {
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

static uint32_t ms(double t) { return (uint32_t)(t * rate / 1000.0); }

static int due(uint32_t when, uint32_t frame) { return (int32_t)(frame - when) >= 0; }

static void put(void *buf, uint32_t offset, uint8_t a, uint8_t b, uint8_t c, int size) {
    uint8_t *d = jack_midi_event_reserve(buf, offset, (size_t)size);
    if (!d) { atomic_fetch_add(&events_dropped, 1); return; }
    d[0] = a; if (size > 1) d[1] = b; if (size > 2) d[2] = c;
    atomic_fetch_add_explicit(&events_sent, 1, memory_order_relaxed);
}

static void note_on(void *buf, uint32_t offset, uint32_t frame, uint8_t note, uint8_t velocity, double hold_ms) {
    put(buf, offset, 0x90, note, velocity, 3);
    atomic_fetch_add_explicit(&notes_sent, 1, memory_order_relaxed);
    if (n_offs < MAX_PENDING) {
        offs[n_offs].frame = frame + ms(hold_ms);
        offs[n_offs].note = note;
        n_offs += 1;
        if (n_offs > atomic_load_explicit(&max_pending, memory_order_relaxed))
            atomic_store_explicit(&max_pending, n_offs, memory_order_relaxed);
    }
}

// A triangle LFO in 0...1 with the given period, at frame f.
static double lfo(uint32_t f, double period_s, double phase) {
    double x = fmod((double)f / rate / period_s + phase, 1.0);
    return x < 0.5 ? 2 * x : 2 - 2 * x;
}

static long long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int generate(jack_nframes_t nframes);

static int send_cycle(jack_nframes_t nframes, void *arg) {
    (void)arg;
    long long t0 = spin_us > 0 ? now_ns() : 0;
    int r = generate(nframes);
    if (spin_us > 0) {
        long long until = t0 + (long long)(spin_us * 1000), t;
        while ((t = now_ns()) < until) {}
        long long elapsed = t - t0;
        atomic_fetch_add_explicit(&spin_cycles, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&spin_busy_ns, elapsed, memory_order_relaxed);
        if (elapsed > (long long)nframes * 1000000000LL / rate) atomic_fetch_add_explicit(&spin_late, 1, memory_order_relaxed);
    }
    return r;
}

static int generate(jack_nframes_t nframes) {
    void *buf = jack_port_get_buffer(midi_out, nframes);
    jack_midi_clear_buffer(buf);
    uint32_t cycle = jack_last_frame_time(midi_client);
    if (!started) {
        started = 1;
        start_frame = cycle;
        next_chord = next_repeat = next_arp = next_cc = next_pedal = cycle;
        next_program = cycle + ms(program_interval * 1000);
        next_panic = cycle + ms(30000);
    }
    for (uint32_t i = 0; i < nframes; i++) {
        uint32_t f = cycle + i;
        // note-offs that are due
        for (int k = 0; k < n_offs;) {
            if (due(offs[k].frame, f)) {
                put(buf, i, 0x80, offs[k].note, 0, 3);
                offs[k] = offs[--n_offs];
            } else {
                k++;
            }
        }
        if (due(next_chord, f)) {  // a chord of 4-6 notes, held 1-2 s, every 250-500 ms
            int size = 4 + (int)rnd(3), root = 40 + (int)rnd(36);
            static const int shape[6] = {0, 4, 7, 11, 14, 17};
            double hold = 1000 + rnd(1000);
            for (int k = 0; k < size; k++) note_on(buf, i, f, (uint8_t)(root + shape[k]), (uint8_t)(60 + rnd(60)), hold);
            next_chord = f + ms(250 + rnd(250));
        }
        if (due(next_repeat, f)) {  // one note struck every 25 ms, 15 ms long
            note_on(buf, i, f, (uint8_t)(72 + (repeat_on % 3)), (uint8_t)(50 + rnd(77)), 15);
            repeat_on += 1;
            next_repeat = f + ms(25);
        }
        if (due(next_arp, f)) {  // 24 notes/s up and down three octaves, 600 ms each
            note_on(buf, i, f, (uint8_t)(48 + arp_step), (uint8_t)(70 + rnd(50)), 600);
            arp_step += arp_dir * 3;
            if (arp_step >= 36 || arp_step <= 0) arp_dir = -arp_dir;
            next_arp = f + ms(1000.0 / 24);
        }
        if (due(next_pedal, f)) {  // sustain down 3 s, up 2 s; sostenuto follows it
            pedal_down = !pedal_down;
            put(buf, i, 0xB0, 64, pedal_down ? 127 : 0, 3);
            put(buf, i, 0xB0, 66, pedal_down ? 127 : 0, 3);
            next_pedal = f + ms(pedal_down ? 3000 : 2000);
        }
        if (due(next_cc, f)) {  // every mapped controller, every 20 ms
            static const uint8_t latent[8] = {70, 71, 72, 73, 74, 75, 76, 77};
            for (int k = 0; k < 8; k++)
                put(buf, i, 0xB0, latent[k], (uint8_t)(127 * lfo(f, 1.3 + 0.7 * k, 0.1 * k)), 3);
            put(buf, i, 0xB0, 1, (uint8_t)(127 * lfo(f, 5.0, 0)), 3);                 // morph
            put(buf, i, 0xB0, 7, (uint8_t)(90 + 37 * lfo(f, 7.0, 0.3)), 3);          // gain, upper range
            put(buf, i, 0xB0, 11, (uint8_t)(80 + 47 * lfo(f, 3.0, 0.6)), 3);         // loudness
            put(buf, i, 0xB0, 91, (uint8_t)(127 * lfo(f, 11.0, 0.2)), 3);            // reverb
            put(buf, i, 0xD0, (uint8_t)(127 * lfo(f, 2.0, 0.5)), 0, 2);              // channel pressure
            uint16_t bend = (uint16_t)(8192 + 4000 * (lfo(f, 0.9, 0) - 0.5));
            put(buf, i, 0xE0, bend & 0x7F, bend >> 7, 3);
            next_cc = f + ms(20);
        }
        if (due(next_program, f)) {  // bank 0, next program
            put(buf, i, 0xB0, 0, 0, 3);
            put(buf, i, 0xB0, 32, 0, 3);
            put(buf, i, 0xC0, (uint8_t)(program_index % programs), 0, 2);
            program_index += 1;
            atomic_fetch_add_explicit(&programs_sent, 1, memory_order_relaxed);
            next_program = f + ms(program_interval * 1000);
        }
        if (due(next_panic, f)) {  // all-notes-off (pedal-held notes stay)
            put(buf, i, 0xB0, 123, 0, 3);
            next_panic = f + ms(30000);
        }
    }
    return 0;
}

static int receive_cycle(jack_nframes_t nframes, void *arg) {
    (void)arg;
    const float *l = jack_port_get_buffer(in_left, nframes);
    const float *r = jack_port_get_buffer(in_right, nframes);
    uint32_t cycle = jack_last_frame_time(rec_client);
    if (!rec_started) {
        rec_started = 1;
        rec_first = cycle;
        rec_expected = cycle;
    }
    if (cycle != rec_expected) atomic_fetch_add_explicit(&clock_gaps, 1, memory_order_relaxed);
    rec_expected = cycle + nframes;
    uint32_t second = (cycle - rec_first) / rate;
    if (second >= MAX_SECONDS) return 0;
    double e = 0;
    float peak = second_peak[second];
    long long bad = 0;
    for (uint32_t i = 0; i < nframes; i++) {
        float a = l[i], b = r[i];
        if (!isfinite(a) || !isfinite(b)) { bad++; continue; }
        e += (double)a * a + (double)b * b;
        float m = fabsf(a) > fabsf(b) ? fabsf(a) : fabsf(b);
        if (m > peak) peak = m;
    }
    second_energy[second] += e;
    second_peak[second] = peak;
    if (bad) atomic_fetch_add_explicit(&nonfinite, bad, memory_order_relaxed);
    atomic_fetch_add_explicit(&recorded_frames, nframes, memory_order_relaxed);
    return 0;
}

static int on_xrun(void *arg) {
    (void)arg;
    atomic_fetch_add_explicit(&xruns, 1, memory_order_relaxed);
    return 0;
}

static void on_signal(int s) { (void)s; stop = 1; }

static void usage(void) {
    fprintf(stderr, "usage: soak_load [--server NAME] [--synth CLIENT] [--seconds S] [--polyphony N] [--programs N]\n"
                    "                 [--program-interval S] [--baseline [--spin-us N]] [--report FILE]\n");
    exit(2);
}

static jack_client_t *open_client(const char *name) {
    jack_status_t status;
    jack_options_t options = JackNoStartServer | (server ? JackServerName : 0);
    jack_client_t *c = server ? jack_client_open(name, options, &status, server) : jack_client_open(name, options, &status);
    if (!c) {
        fprintf(stderr, "soak_load: cannot open JACK client %s (status 0x%x)\n", name, (unsigned)status);
        exit(1);
    }
    return c;
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--baseline")) { baseline = 1; continue; }
        if (!v) usage();
        if (!strcmp(a, "--server")) server = v;
        else if (!strcmp(a, "--synth")) synth = v;
        else if (!strcmp(a, "--seconds")) seconds = atof(v);
        else if (!strcmp(a, "--polyphony")) polyphony = atoi(v);
        else if (!strcmp(a, "--programs")) programs = atoi(v) > 0 ? atoi(v) : 1;
        else if (!strcmp(a, "--program-interval")) program_interval = atof(v);
        else if (!strcmp(a, "--report")) report_path = v;
        else if (!strcmp(a, "--spin-us")) spin_us = atof(v);
        else usage();
        i++;
    }
    second_energy = calloc(MAX_SECONDS, sizeof *second_energy);
    second_peak = calloc(MAX_SECONDS, sizeof *second_peak);
    midi_client = open_client("soak_midi");
    rec_client = open_client("soak_rec");
    rate = jack_get_sample_rate(midi_client);
    midi_out = jack_port_register(midi_client, "midi_out", JACK_DEFAULT_MIDI_TYPE, JackPortIsOutput, 0);
    in_left = jack_port_register(rec_client, "in_left", JACK_DEFAULT_AUDIO_TYPE, JackPortIsInput, 0);
    in_right = jack_port_register(rec_client, "in_right", JACK_DEFAULT_AUDIO_TYPE, JackPortIsInput, 0);
    if (!midi_out || !in_left || !in_right) { fprintf(stderr, "soak_load: cannot register ports\n"); return 1; }
    jack_set_process_callback(midi_client, send_cycle, NULL);
    jack_set_process_callback(rec_client, receive_cycle, NULL);
    jack_set_xrun_callback(rec_client, on_xrun, NULL);
    if (jack_activate(midi_client) || jack_activate(rec_client)) { fprintf(stderr, "soak_load: cannot activate\n"); return 1; }
    if (!baseline) {
        char a[256], b[256];
        const char *pairs[3][2] = {{"soak_midi:midi_out", NULL}, {NULL, "soak_rec:in_left"}, {NULL, "soak_rec:in_right"}};
        snprintf(a, sizeof a, "%s:midi_in", synth);
        pairs[0][1] = a;
        snprintf(b, sizeof b, "%s:out_left", synth);
        pairs[1][0] = b;
        char c[256];
        snprintf(c, sizeof c, "%s:out_right", synth);
        pairs[2][0] = c;
        for (int k = 0; k < 3; k++) {
            if (jack_connect(midi_client, pairs[k][0], pairs[k][1]) != 0) {
                fprintf(stderr, "soak_load: cannot connect %s -> %s\n", pairs[k][0], pairs[k][1]);
                return 1;
            }
        }
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        usleep(100000);
        clock_gettime(CLOCK_MONOTONIC, &t);
        double elapsed = (double)(t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9;
        if (stop || elapsed >= seconds) break;
    }
    jack_deactivate(midi_client);
    jack_deactivate(rec_client);

    // per-second levels (RMS over both channels, dBFS); the first two seconds are the start
    long long frames = atomic_load(&recorded_frames);
    int full = (int)(frames / rate);
    double total = 0, quietest = 1e9, loudest = -1e9;
    float peak = 0;
    int counted = 0, silent = 0;
    for (int s = 2; s < full && s < MAX_SECONDS; s++) {
        double rms = sqrt(second_energy[s] / (2.0 * rate));
        double db = rms > 0 ? 20 * log10(rms) : -200;
        if (db < quietest) quietest = db;
        if (db > loudest) loudest = db;
        if (db < -60) silent++;
        total += second_energy[s];
        counted++;
    }
    for (int s = 0; s < full && s < MAX_SECONDS; s++) if (second_peak[s] > peak) peak = second_peak[s];
    double mean_db = counted ? 20 * log10(sqrt(total / (2.0 * rate * counted)) + 1e-30) : -200;
    FILE *out = report_path ? fopen(report_path, "w") : stdout;
    if (!out) out = stdout;
    fprintf(out, "mode=%s\nseconds_recorded=%.1f\nnotes_sent=%lld\nevents_sent=%lld\nevents_dropped=%lld\n"
                 "programs_sent=%lld\nmax_notes_held=%d\npolyphony=%d\nxrun_notifications=%lld\nclock_gaps=%lld\n"
                 "level_mean_dbfs=%.1f\nlevel_quietest_second_dbfs=%.1f\nlevel_loudest_second_dbfs=%.1f\n"
                 "silent_seconds=%d\npeak=%.4f\nnonfinite_samples=%lld\n"
                 "spin_us=%.1f\nspin_cycles=%lld\nspin_late_cycles=%lld\nspin_mean_us=%.1f\n",
            baseline ? "baseline" : "synth", (double)frames / rate, (long long)atomic_load(&notes_sent),
            (long long)atomic_load(&events_sent), (long long)atomic_load(&events_dropped),
            (long long)atomic_load(&programs_sent), atomic_load(&max_pending), polyphony,
            (long long)atomic_load(&xruns), (long long)atomic_load(&clock_gaps),
            counted ? mean_db : -200, counted ? quietest : -200, counted ? loudest : -200, silent, peak,
            (long long)atomic_load(&nonfinite), spin_us, (long long)atomic_load(&spin_cycles),
            (long long)atomic_load(&spin_late),
            atomic_load(&spin_cycles) ? atomic_load(&spin_busy_ns) / 1000.0 / atomic_load(&spin_cycles) : 0.0);
    if (out != stdout) fclose(out);
    jack_client_close(midi_client);
    jack_client_close(rec_client);
    return 0;
}
