// ALSA sequencer MIDI input (see SequencerInput.swift).
