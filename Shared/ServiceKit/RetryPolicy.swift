/// Exponential backoff with full jitter: the n-th retry waits a random time up to `base × 2ⁿ`, capped.
public struct RetryPolicy: Sendable, Equatable {
    public var maxRetries: Int
    public var baseDelay: Duration
    public var maxDelay: Duration

    public init(maxRetries: Int, baseDelay: Duration, maxDelay: Duration) {
        self.maxRetries = maxRetries
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }

    public static let internalCalls = RetryPolicy(maxRetries: 2, baseDelay: .milliseconds(100), maxDelay: .seconds(2))

    /// The longest wait before retry number `retry` (0-based), before jitter.
    public func ceiling(forRetry retry: Int) -> Duration {
        let factor = 1 << min(retry, 30)
        let scaled = baseDelay * factor
        return scaled < maxDelay ? scaled : maxDelay
    }

    /// The wait before retry number `retry`, with `unitRandom` in 0...1 choosing the point under the ceiling.
    public func delay(forRetry retry: Int, unitRandom: Double) -> Duration {
        ceiling(forRetry: retry) * min(max(unitRandom, 0), 1)
    }
}

extension Duration {
    /// The duration in seconds, fractions included.
    public var inSeconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
