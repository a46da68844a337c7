import Foundation

/// How one check of an integration ended.
enum CheckOutcome: String, Codable, Sendable {
    case ok
    /// The provider answered 429 through every retry: it is up, we are asking too often.
    case rateLimited = "rate_limited"
    /// 401 or 403: the credentials are wrong, expired or lack a permission.
    case authFailed = "auth_failed"
    /// Unreachable, 5xx through every retry, or an answer that is not the documented one.
    case failed

    init(_ failure: ProviderFailure) {
        switch failure {
        case .authFailed: self = .authFailed
        case .rateLimited: self = .rateLimited
        case .unavailable, .invalidResponse: self = .failed
        }
    }
}

enum HealthState: String, Codable, Sendable {
    case healthy, degraded, unhealthy, unknown
}

/// An integration's health as stored between checks.
struct HealthRecord: Equatable, Sendable {
    var state: HealthState = .unknown
    var consecutiveFailures = 0
    var consecutiveSuccesses = 0
    var since: Date
    var incidentOpen = false
}

/// What one check changes. No I/O.
///
/// An incident opens after 3 consecutive failed checks, or at once when the credentials are refused (retrying cannot
/// fix them), and is resolved after 2 consecutive successes. A rate-limited check is neither: the system is up, so it
/// only makes the integration `degraded` and leaves the counts as they were. Health is `unhealthy` while an incident
/// is open for a failure, `degraded` while failures are below the threshold or the incident is recovering, `healthy`
/// otherwise.
enum HealthRules {
    static let failuresToOpen = 3
    static let successesToResolve = 2

    struct Transition: Equatable {
        var record: HealthRecord
        var opensIncident = false
        var resolvesIncident = false
        var stateChanged: Bool
    }

    static func apply(_ outcome: CheckOutcome, to record: HealthRecord, at now: Date) -> Transition {
        var next = record
        var opens = false
        var resolves = false
        switch outcome {
        case .ok:
            next.consecutiveSuccesses += 1
            next.consecutiveFailures = 0
            if next.incidentOpen && next.consecutiveSuccesses >= successesToResolve {
                next.incidentOpen = false
                resolves = true
            }
            next.state = next.incidentOpen ? .degraded : .healthy
        case .failed, .authFailed:
            next.consecutiveFailures += 1
            next.consecutiveSuccesses = 0
            if !next.incidentOpen && (outcome == .authFailed || next.consecutiveFailures >= failuresToOpen) {
                next.incidentOpen = true
                opens = true
            }
            next.state = next.incidentOpen ? .unhealthy : .degraded
        case .rateLimited:
            next.state = next.incidentOpen ? .unhealthy : .degraded
        }
        let changed = next.state != record.state
        if changed { next.since = now }
        return Transition(record: next, opensIncident: opens, resolvesIncident: resolves, stateChanged: changed)
    }
}
