import Foundation
import ServiceKit

/// revio-data's own variables, read and checked at start.
public struct RevioSettings: Sendable {
    public var apiURL: String
    /// Without a key the service serves its demo data set.
    public var apiKey: String?
    public var cacheTTL: Duration = .seconds(600)
    public var mapping = RevioMapping()
    /// The currency whose customers make each revenue group's `total_revenue` (amounts in two currencies never add).
    public var reportingCurrency = "usd"
    public var timeout: Duration = .seconds(10)
    public var concurrency = 8

    public init(apiURL: String, apiKey: String?) {
        self.apiURL = apiURL
        self.apiKey = apiKey
    }

    public static func load(from environment: EnvironmentReader) throws -> RevioSettings {
        var settings = RevioSettings(
            apiURL: try environment.url("REVIO_API_URL", default: "https://api.revio.com/v1"),
            apiKey: environment.optional("REVIO_API_KEY")
        )
        settings.cacheTTL = .seconds(try environment.integer("REVIO_CACHE_TTL", default: 600, in: 300...900))
        let thresholds = RevenueTierThresholds(
            enterpriseCents: Int64(try environment.integer("REVIO_ENTERPRISE_MIN_CENTS", default: 500_000, in: 1...Int.max)),
            midMarketCents: Int64(try environment.integer("REVIO_MID_MARKET_MIN_CENTS", default: 100_000, in: 1...Int.max))
        )
        guard thresholds.midMarketCents < thresholds.enterpriseCents else {
            throw ConfigurationError(variable: "REVIO_MID_MARKET_MIN_CENTS", expected: "must be below REVIO_ENTERPRISE_MIN_CENTS")
        }
        settings.mapping = RevioMapping(thresholds: thresholds, slaTiers: try slaTiers(environment.optional("REVIO_SLA_TIERS")))
        settings.reportingCurrency = (environment.optional("REVIO_CURRENCY") ?? "usd").lowercased()
        settings.timeout = .seconds(try environment.integer("REVIO_TIMEOUT_SECONDS", default: 10, in: 1...120))
        settings.concurrency = try environment.integer("REVIO_CONCURRENCY", default: 8, in: 1...64)
        return settings
    }

    /// `REVIO_SLA_TIERS="standard=silver,vip=platinum"`: Revio SLA names mapped to the seed's four tiers.
    static func slaTiers(_ text: String?) throws -> [String: String] {
        var table: [String: String] = [:]
        for entry in (text ?? "").split(separator: ",") {
            let parts = entry.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            guard parts.count == 2, !parts[0].isEmpty, RevioMapping.seedSLATiers.contains(parts[1]) else {
                throw ConfigurationError(
                    variable: "REVIO_SLA_TIERS",
                    expected: "comma-separated name=tier pairs, each tier one of \(RevioMapping.seedSLATiers.joined(separator: ", "))"
                )
            }
            table[parts[0]] = parts[1]
        }
        return table
    }
}
