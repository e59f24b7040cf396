import Engine
import XCTest

final class VoiceAllocationTests: XCTestCase {
    let rate = 48000.0

    func testFreeSlotFirst() {
        let v = [VoiceSummary(isActive: true, ageSamples: 10), VoiceSummary(isActive: false), VoiceSummary(isActive: false)]
        XCTAssertEqual(VoiceAllocation.choose(v, sampleRate: rate).index, 1)
        XCTAssertFalse(VoiceAllocation.choose(v, sampleRate: rate).steals)
    }

    func testReleasedVoicesAreStolenBeforeHeldOnes() {
        let v = [VoiceSummary(isActive: true, ageSamples: 480_000, loudnessDB: -60),  // old, quiet, held
                 VoiceSummary(isActive: true, isReleased: true, ageSamples: 100, loudnessDB: -5),  // loud but released
                 VoiceSummary(isActive: true, ageSamples: 10)]
        let c = VoiceAllocation.choose(v, sampleRate: rate)
        XCTAssertEqual(c.index, 1)
        XCTAssertTrue(c.steals)
    }

    func testPedalHeldBetweenReleasedAndHeld() {
        let v = [VoiceSummary(isActive: true, ageSamples: 999_999, loudnessDB: -80),
                 VoiceSummary(isActive: true, isReleased: true, isHeldByPedal: true, ageSamples: 1, loudnessDB: 0)]
        XCTAssertEqual(VoiceAllocation.choose(v, sampleRate: rate).index, 1)
        let w = v + [VoiceSummary(isActive: true, isReleased: true, ageSamples: 1, loudnessDB: 0)]
        XCTAssertEqual(VoiceAllocation.choose(w, sampleRate: rate).index, 2)
    }

    func testOldestThenQuietestAmongHeld() {
        let v = [VoiceSummary(isActive: true, ageSamples: 48_000, loudnessDB: -20),
                 VoiceSummary(isActive: true, ageSamples: 96_000, loudnessDB: -20),
                 VoiceSummary(isActive: true, ageSamples: 48_000, loudnessDB: -40)]
        // 1 s older (1 point) vs 20 dB quieter (3.3 points): the quiet one goes
        XCTAssertEqual(VoiceAllocation.choose(v, sampleRate: rate).index, 2)
        XCTAssertGreaterThan(VoiceAllocation.stealScore(v[1], sampleRate: rate), VoiceAllocation.stealScore(v[0], sampleRate: rate))
    }
}
