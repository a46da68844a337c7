import Synchronization

/// A dictionary of at most `2 × capacity` entries: when the current generation fills up it becomes the previous one
/// and the one before is dropped, so a flood of distinct keys costs bounded memory and O(1) per operation. Keys in
/// use move back into the current generation; only keys nobody touched for a whole generation are forgotten.
struct BoundedDictionary<Key: Hashable, Value> {
    private var current: [Key: Value] = [:]
    private var previous: [Key: Value] = [:]
    let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
    }

    var count: Int { current.count + previous.count }

    subscript(key: Key) -> Value? {
        get { current[key] ?? previous[key] }
        set {
            if let newValue {
                if current[key] == nil, current.count >= capacity {
                    previous = current
                    current = [:]
                    current.reserveCapacity(capacity)
                }
                current[key] = newValue
            } else {
                current[key] = nil
                previous[key] = nil
            }
        }
    }
}

/// Fixed-window counting per key: at most `limit.requests` in each window of `limit.windowSeconds`. Every key keeps
/// its own window; memory stays bounded however many keys there are.
public struct FixedWindowCounter: Sendable {
    public struct Decision: Equatable, Sendable {
        public let allowed: Bool
        public let limit: Int
        public let remaining: Int
        /// Seconds until the window resets.
        public let resetSeconds: Int
    }

    struct Window: Sendable {
        var start: Int64
        var count: Int
    }

    private var windows: BoundedDictionary<String, Window>

    public init(capacity: Int = 100_000) {
        windows = BoundedDictionary(capacity: capacity)
    }

    var keyCount: Int { windows.count }

    /// Counts a request against the key, when the window still has room.
    public mutating func hit(_ key: String, limit: RateLimit, nowSeconds: Int64) -> Decision {
        var window = current(key, limit: limit, nowSeconds: nowSeconds)
        let allowed = window.count < limit.requests
        if allowed { window.count += 1 }
        windows[key] = window
        return decision(window, allowed: allowed, limit: limit, nowSeconds: nowSeconds)
    }

    /// What a request would be told, without counting it.
    public func peek(_ key: String, limit: RateLimit, nowSeconds: Int64) -> Decision {
        let window = current(key, limit: limit, nowSeconds: nowSeconds)
        return decision(window, allowed: window.count < limit.requests, limit: limit, nowSeconds: nowSeconds)
    }

    private func current(_ key: String, limit: RateLimit, nowSeconds: Int64) -> Window {
        let start = nowSeconds - nowSeconds % Int64(limit.windowSeconds)
        return windows[key].flatMap { $0.start == start ? $0 : nil } ?? Window(start: start, count: 0)
    }

    private func decision(_ window: Window, allowed: Bool, limit: RateLimit, nowSeconds: Int64) -> Decision {
        Decision(
            allowed: allowed,
            limit: limit.requests,
            remaining: limit.requests - window.count,
            resetSeconds: Int(window.start + Int64(limit.windowSeconds) - nowSeconds)
        )
    }
}

/// The gateway's shared limiter.
final class RateLimiter: Sendable {
    private let counter: Mutex<FixedWindowCounter>

    init(capacity: Int = 100_000) {
        counter = Mutex(FixedWindowCounter(capacity: capacity))
    }

    func hit(_ key: String, limit: RateLimit, nowSeconds: Int64) -> FixedWindowCounter.Decision {
        counter.withLock { $0.hit(key, limit: limit, nowSeconds: nowSeconds) }
    }

    func peek(_ key: String, limit: RateLimit, nowSeconds: Int64) -> FixedWindowCounter.Decision {
        counter.withLock { $0.peek(key, limit: limit, nowSeconds: nowSeconds) }
    }
}

extension BoundedDictionary: Sendable where Key: Sendable, Value: Sendable {}
