#pragma once
#include <jack/jack.h>
#include <jack/midiport.h>
#include <jack/thread.h>

/// jack_client_open is variadic (the server name follows JackServerName), which Swift cannot
/// call: this wrapper passes the server name only when one is given.
static inline jack_client_t *timbred_jack_client_open(const char *client_name, jack_options_t options,
                                                      jack_status_t *status, const char *server_name) {
    if (server_name != NULL && server_name[0] != '\0') {
        return jack_client_open(client_name, (jack_options_t)(options | JackServerName), status, server_name);
    }
    return jack_client_open(client_name, options, status);
}
