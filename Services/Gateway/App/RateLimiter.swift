import Synchronization

/// Fixed-window counting per key: at most `limit.requests` in each window of `limit.windowSeconds`.
public struct FixedWindowCounter: Sendable {
    public struct Decision: Equatable, Sendable {
        public let allowed: Bool
        public let limit: Int
        public let remaining: Int
        /// Seconds until the window resets.
        public let resetSeconds: Int
    }

    struct Window {
        var start: Int64
        var count: Int
    }

    private var windows: [String: Window] = [:]
    /// Above this many keys, expired windows are dropped so memory stays bounded.
    let pruneThreshold: Int

    public init(pruneThreshold: Int = 100_000) {
        self.pruneThreshold = pruneThreshold
    }

    public mutating func hit(_ key: String, limit: RateLimit, nowSeconds: Int64) -> Decision {
        let window = Int64(limit.windowSeconds)
        let start = nowSeconds - nowSeconds % window
        var current = windows[key].flatMap { $0.start == start ? $0 : nil } ?? Window(start: start, count: 0)
        let allowed = current.count < limit.requests
        if allowed { current.count += 1 }
        windows[key] = current
        if windows.count > pruneThreshold {
            windows = windows.filter { $0.value.start + window > nowSeconds }
        }
        return Decision(allowed: allowed, limit: limit.requests, remaining: limit.requests - current.count, resetSeconds: Int(start + window - nowSeconds))
    }
}

/// The gateway's shared limiter.
final class RateLimiter: Sendable {
    private let counter = Mutex(FixedWindowCounter())

    func hit(_ key: String, limit: RateLimit, nowSeconds: Int64) -> FixedWindowCounter.Decision {
        counter.withLock { $0.hit(key, limit: limit, nowSeconds: nowSeconds) }
    }
}
