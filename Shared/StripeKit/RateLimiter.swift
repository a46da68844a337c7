import Synchronization

/// A token bucket: `rate` tokens a second, holding at most `burst`. No I/O and no clock of its own, so it is tested
/// with instants the test chooses.
public struct TokenBucket: Sendable, Equatable {
    public let rate: Int
    public let burst: Int
    /// Tokens as of `updated`, which may be negative: requests already promised a later token.
    private var tokens: Double
    private var updated: ContinuousClock.Instant?

    public init(rate: Int, burst: Int? = nil) {
        precondition(rate > 0, "a bucket needs a positive rate")
        self.rate = rate
        self.burst = burst ?? rate
        tokens = Double(self.burst)
    }

    /// Takes one token and says how long to wait before using it (zero when one was there).
    public mutating func reserve(at now: ContinuousClock.Instant) -> Duration {
        if let updated { tokens = min(Double(burst), tokens + (now - updated).inSeconds * Double(rate)) }
        updated = now
        tokens -= 1
        return tokens >= 0 ? .zero : .seconds(-tokens / Double(rate))
    }
}

/// One token bucket per key (a connected account), shared by every worker in the process.
public final class RequestRateLimiter: Sendable {
    public let rate: Int
    private let buckets = Mutex<[String: TokenBucket]>([:])

    public init(rate: Int) {
        self.rate = rate
    }

    /// Waits until `key` may send one more request.
    public func acquire(_ key: String) async throws {
        let now = ContinuousClock.now
        let wait = buckets.withLock { buckets in
            buckets[key, default: TokenBucket(rate: rate)].reserve(at: now)
        }
        if wait > .zero { try await Task.sleep(for: wait) }
    }
}
