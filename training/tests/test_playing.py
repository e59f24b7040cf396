"""`playing`'s choice of the notes it judges: the nearest key the SoundFont plays."""
import pytest

from timbred_train.dataset import DEFAULT_SOUNDFONT, FluidSynth
from timbred_train.playing import RATE, playable_pitches, probe_pitches

needs_sf = pytest.mark.skipif(not DEFAULT_SOUNDFONT.is_file(), reason="fluid-soundfont-gm not installed")


@needs_sf
def test_a_key_the_soundfont_leaves_silent_is_judged_at_its_nearest_playing_neighbour():
    fs = FluidSynth(DEFAULT_SOUNDFONT, RATE)
    # FluidR3's violin (program 40) sounds a click at key 94 and then nothing; 93 plays
    assert probe_pitches(55, 100) == [60, 61, 94]
    assert playable_pitches(fs, 40, 55, 100) == [60, 61, 93]
    # the piano plays every key: its probes stay
    assert playable_pitches(fs, 0, 21, 108) == probe_pitches(21, 108)
