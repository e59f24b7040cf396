#pragma once
#include <alsa/asoundlib.h>

/// Length of a variable-length event's data (SysEx). snd_seq_ev_ext is a packed struct, which
/// Swift does not see through; these read its fields in C.
static inline unsigned int timbred_seq_ext_length(const snd_seq_event_t *event) {
    return event->data.ext.len;
}

/// Pointer to a variable-length event's data (SysEx chunk bytes).
static inline const unsigned char *timbred_seq_ext_bytes(const snd_seq_event_t *event) {
    return (const unsigned char *)event->data.ext.ptr;
}

/// Makes a variable-length event (for tests of the conversion: no sequencer needed).
static inline void timbred_seq_set_ext(snd_seq_event_t *event, unsigned int length, void *bytes) {
    event->flags &= ~SND_SEQ_EVENT_LENGTH_MASK;
    event->flags |= SND_SEQ_EVENT_LENGTH_VARIABLE;
    event->data.ext.len = length;
    event->data.ext.ptr = bytes;
}

static void timbred_alsa_quiet_error_handler(const char *file, int line, const char *function, int err,
                                             const char *fmt, ...) {
    (void)file; (void)line; (void)function; (void)err; (void)fmt;
}

/// Stops alsa-lib printing its own error lines on stderr (the caller reports failures itself,
/// as one line).
static inline void timbred_alsa_quiet_errors(void) {
    snd_lib_error_set_handler(timbred_alsa_quiet_error_handler);
}
