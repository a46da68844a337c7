import ServiceKit

/// revio-data's own variables, read and checked at start.
public struct RevioSettings: Sendable {
    public var apiURL: String
    /// Without a key the service serves its demo data set.
    public var apiKey: String?
    public var cacheTTL: Duration = .seconds(600)
    public var thresholds = RevenueTierThresholds()
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
        settings.thresholds.enterpriseCents = Int64(try environment.integer("REVIO_ENTERPRISE_MIN_CENTS", default: 500_000, in: 1...Int.max))
        settings.thresholds.midMarketCents = Int64(try environment.integer("REVIO_MID_MARKET_MIN_CENTS", default: 100_000, in: 1...Int.max))
        guard settings.thresholds.midMarketCents < settings.thresholds.enterpriseCents else {
            throw ConfigurationError(variable: "REVIO_MID_MARKET_MIN_CENTS", expected: "must be below REVIO_ENTERPRISE_MIN_CENTS")
        }
        settings.timeout = .seconds(try environment.integer("REVIO_TIMEOUT_SECONDS", default: 10, in: 1...120))
        settings.concurrency = try environment.integer("REVIO_CONCURRENCY", default: 8, in: 1...64)
        return settings
    }
}
