import Atomics

/// A lock-free single-producer/single-consumer ring of trivially copyable values.
///
/// The control thread pushes, the audio thread pops (or the other way round for status); neither
/// side ever blocks or allocates after `init`. A full ring refuses the push (the producer counts it
/// and drops), as FluidSynth's rings do, rather than blocking the audio thread.
public final class SPSCRing<Element>: @unchecked Sendable {
    private let storage: UnsafeMutablePointer<Element>
    private let capacity: Int
    private let mask: Int
    private let head = ManagedAtomic<Int>(0)  // next slot to read (consumer owns)
    private let tail = ManagedAtomic<Int>(0)  // next slot to write (producer owns)

    /// - Parameter capacity: rounded up to a power of two; one slot stays empty.
    public init(capacity: Int, placeholder: Element) {
        var size = 2
        while size < capacity + 1 { size <<= 1 }
        self.capacity = size
        self.mask = size - 1
        storage = .allocate(capacity: size)
        storage.initialize(repeating: placeholder, count: size)
    }

    deinit {
        storage.deinitialize(count: capacity)
        storage.deallocate()
    }

    /// Producer side: append a value; returns false when the ring is full. Real-time safe.
    @inline(__always)
    public func push(_ value: Element) -> Bool {
        let t = tail.load(ordering: .relaxed)
        let next = (t + 1) & mask
        if next == head.load(ordering: .acquiring) { return false }
        storage[t] = value
        tail.store(next, ordering: .releasing)
        return true
    }

    /// Consumer side: take the oldest value, or nil when empty. Real-time safe.
    @inline(__always)
    public func pop() -> Element? {
        let h = head.load(ordering: .relaxed)
        if h == tail.load(ordering: .acquiring) { return nil }
        let value = storage[h]
        head.store((h + 1) & mask, ordering: .releasing)
        return value
    }

    /// Consumer side: the oldest value without taking it. Real-time safe.
    @inline(__always)
    public func peek() -> Element? {
        let h = head.load(ordering: .relaxed)
        if h == tail.load(ordering: .acquiring) { return nil }
        return storage[h]
    }

    /// Number of values waiting (approximate while the other side runs).
    public var count: Int {
        (tail.load(ordering: .acquiring) - head.load(ordering: .acquiring)) & mask
    }

    /// Producer side: values that can be pushed now without refusal (at least; the consumer may
    /// free more meanwhile).
    public var freeSlots: Int { mask - count }
}
