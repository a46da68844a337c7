import Foundation

/// What one delivery attempt came to, from the CRM's answer (or its absence).
enum AttemptOutcome: Equatable, Sendable {
    case delivered
    /// A retry cannot help (the CRM refused the event itself).
    case rejected
    /// Worth another try; `retryAfter` is the CRM's own `Retry-After`, in seconds, when it sent one.
    case transientFailure(retryAfter: Int?)

    /// `status` is nil when no answer came (timeout, refused or dropped connection).
    static func classify(status: Int?, retryAfter: String? = nil) -> AttemptOutcome {
        guard let status else { return .transientFailure(retryAfter: nil) }
        switch status {
        case 200..<300: return .delivered
        case 408, 429, 500...599: return .transientFailure(retryAfter: retryAfter.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) })
        default: return .rejected
        }
    }
}

/// The seed's retry schedule: at most `maxRetries` retries, waiting `base × 2ⁿ` with ± `jitter`.
struct RetrySchedule: Equatable, Sendable {
    var maxRetries = 3
    var base: Duration = .seconds(1)
    var jitter = 0.2
    /// A `Retry-After` is honoured up to this; beyond it the CRM is asking for more than a retry is worth.
    var maxRetryAfter: Duration = .seconds(300)

    /// The wait before retry `retry` (1-based), or nil when retries are used up. `unitRandom` in 0...1.
    func delay(beforeRetry retry: Int, retryAfter: Int?, unitRandom: Double) -> Duration? {
        guard retry >= 1, retry <= maxRetries else { return nil }
        let nominal = base * (1 << (retry - 1))
        let factor = 1 + jitter * (2 * min(max(unitRandom, 0), 1) - 1)
        let jittered = nominal * factor
        if let retryAfter, retryAfter >= 0 {
            let requested = min(Duration.seconds(retryAfter), maxRetryAfter)
            return max(requested, jittered)
        }
        return jittered
    }
}

/// Stops deliveries after a run of failures and lets one probe decide when to resume. Pure state; the worker
/// feeds it results and the clock.
struct CircuitBreaker: Equatable, Sendable {
    enum State: String, Codable, Sendable { case closed, open }

    var threshold: Int
    var probeInterval: Duration
    private(set) var state: State = .closed
    private(set) var consecutiveFailures = 0
    private(set) var nextProbe: ContinuousClock.Instant?

    init(threshold: Int, probeInterval: Duration) {
        self.threshold = threshold
        self.probeInterval = probeInterval
    }

    /// A delivery's result. Only failures that say the CRM is unwell count; a refused event does not.
    mutating func record(_ outcome: AttemptOutcome, now: ContinuousClock.Instant) {
        switch outcome {
        case .delivered, .rejected:
            consecutiveFailures = 0
        case .transientFailure:
            consecutiveFailures += 1
            if state == .closed, consecutiveFailures >= threshold {
                state = .open
                nextProbe = now + probeInterval
            }
        }
    }

    /// Whether deliveries may be attempted now.
    var allowsDeliveries: Bool { state == .closed }

    func probeDue(now: ContinuousClock.Instant) -> Bool { state == .open && (nextProbe.map { now >= $0 } ?? true) }

    mutating func recordProbe(healthy: Bool, now: ContinuousClock.Instant) {
        if healthy {
            state = .closed
            consecutiveFailures = 0
            nextProbe = nil
        } else {
            nextProbe = now + probeInterval
        }
    }
}
