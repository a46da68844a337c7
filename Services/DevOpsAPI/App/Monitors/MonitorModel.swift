import Foundation
import PlanKit
import ServiceKit

/// The outside systems devops-api can watch.
enum IntegrationKind: String, Codable, CaseIterable, Sendable {
    case n8n
    case retell
    case vonage
    case digitalocean
    case supabase
    case gcp

    /// Where the provider's API lives when an integration names no `base_url`.
    var defaultBaseURL: String? {
        switch self {
        case .n8n: nil  // Every n8n is somebody's own instance.
        case .retell: "https://api.retellai.com"
        case .vonage: "https://api.nexmo.com"
        case .digitalocean: "https://api.digitalocean.com"
        case .supabase: "https://api.supabase.com"
        case .gcp: "https://monitoring.googleapis.com"
        }
    }

    /// The credential fields the connector needs, each required.
    var credentialFields: [String] {
        switch self {
        case .n8n, .retell: ["api_key"]
        case .vonage: ["application_id", "private_key", "api_key", "api_secret"]
        case .digitalocean: ["token"]
        case .supabase: ["access_token", "service_role_key"]
        case .gcp: ["service_account"]
        }
    }

    /// Config fields beyond `window_hours` that the connector reads.
    var configFields: [String] {
        switch self {
        case .n8n, .retell: ["max_pages"]
        case .vonage: ["rest_url", "sms", "currency"]
        case .digitalocean: ["max_droplets"]
        case .supabase: ["project_ref", "project_url"]
        case .gcp: ["project_id", "token_url"]
        }
    }

    /// The series a collection stores, which `GET …/metrics?metric=` serves.
    var metrics: [String] {
        switch self {
        case .n8n:
            [
                "executions_success", "executions_error", "executions_crashed", "executions_finished", "execution_duration_ms_total",
                "executions_waiting", "workflows_active",
            ]
        case .vonage: ["calls_ended", "calls_completed", "balance_cents"]
        case .retell:
            ["calls_ended", "calls_error", "calls_not_connected", "calls_analysed", "calls_successful", "cost_cents", "concurrency_used"]
        case .digitalocean:
            ["cpu_percent", "memory_percent", "disk_percent", "bandwidth_in_mbps", "bandwidth_out_mbps", "month_to_date_usage_cents"]
        case .supabase: ["services_healthy", "database_size_bytes", "active_connections", "connections", "auth_users"]
        case .gcp: ["cpu_percent"]
        }
    }

    /// Builds the connector for one integration, or names the field that is wrong.
    func connector(_ target: IntegrationTarget) throws(FieldProblems) -> any MonitorConnector {
        switch self {
        case .n8n: try N8nConnector(target)
        case .retell: try RetellConnector(target)
        case .vonage: try VonageConnector(target)
        case .digitalocean: try DigitalOceanConnector(target)
        case .supabase: try SupabaseConnector(target)
        case .gcp: try GoogleCloudConnector(target)
        }
    }
}

/// Problems found while checking an integration's fields, all of them at once.
struct FieldProblems: Error {
    var problems: [FieldProblem]

    init(_ problems: [FieldProblem]) { self.problems = problems }
    init(_ field: String, _ problem: String) { self.problems = [FieldProblem(field, problem)] }
}

/// One integration as its connector sees it: where to call, with what, and how it is configured.
struct IntegrationTarget: Sendable {
    var kind: IntegrationKind
    /// The provider's scheme and host (and, for a self-hosted instance, its root path); no trailing slash.
    var baseURL: String
    var credentials: [String: String]
    var config: [String: JSONValue]

    func credential(_ name: String) -> String { credentials[name] ?? "" }

    /// A whole-number config value within `range`, or `fallback` when absent.
    func integer(_ name: String, default fallback: Int, in range: ClosedRange<Int>) throws(FieldProblems) -> Int {
        guard let value = config[name] else { return fallback }
        guard case .number(let number) = value, let integer = Int(exactly: NSDecimalNumber(decimal: number).doubleValue), range.contains(integer)
        else {
            throw FieldProblems("config.\(name)", "must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return integer
    }
}

/// A value measured for one bucket of time. Counters are additive (executions, calls), so a bucket's samples add up
/// over a longer period; gauges are levels (CPU %, balance) and are averaged.
struct MetricSample: Sendable, Equatable {
    enum Kind: String, Sendable { case counter, gauge }

    var metric: String
    /// What the value is about (`workflow_id`, `droplet_id`); empty for the integration as a whole.
    var dimensions: [String: String] = [:]
    var bucketStart: Date
    var value: Decimal
    var kind: Kind
}

/// What one collection found: time series for the charts and the headline numbers the overview shows.
struct Collected: Sendable, Equatable {
    var samples: [MetricSample] = []
    /// Headline numbers over the window, by name; a ratio with nothing to divide by is null, never 0 or NaN.
    var summary: [String: JSONValue] = [:]
}

/// The period a collection covers: `[start, end)`.
struct CollectionWindow: Sendable, Equatable {
    var start: Date
    var end: Date

    func contains(_ date: Date) -> Bool { date >= start && date < end }
}

/// One provider's API: a cheap `check` that the credentials work and the system answers, and `collect`, which reads
/// what happened in a window. Both go through `ProviderClient`, which owns retries, backoff and rate limits.
protocol MonitorConnector: Sendable {
    func check(using client: ProviderClient) async throws
    func collect(_ window: CollectionWindow, using client: ProviderClient) async throws -> Collected
}

extension Date {
    /// The start of the UTC hour this instant falls in.
    var hourStart: Date { Date(timeIntervalSince1970: (timeIntervalSince1970 / 3600).rounded(.down) * 3600) }
}

extension JSONValue {
    /// A number, or null for none.
    init(_ value: Decimal?) { self = value.map(JSONValue.number) ?? .null }

    /// `numerator ÷ denominator` rounded to 4 places, or null when the denominator is 0.
    static func ratio(_ numerator: Int, _ denominator: Int) -> JSONValue {
        guard denominator > 0 else { return .null }
        return .number((Decimal(numerator) / Decimal(denominator)).rounded(places: 4))
    }
}
