import ServiceKit

/// crm-relay's own variables, read and checked at start.
public struct RelaySettings: Sendable {
    /// The CRM's webhook base (`…/webhooks`); nil when no CRM is configured (events then wait in the outbox).
    public var webhookURL: String?
    public var apiKey: String?
    public var timeout: Duration = .seconds(10)
    var schedule = RetrySchedule()
    public var breakerFailures = 5
    public var breakerProbeInterval: Duration = .seconds(30)
    /// How long a claimed event stays with its worker before another may take it (a crashed relay's events).
    public var lease: Duration = .seconds(30)
    /// How often an idle worker looks for due events.
    public var pollInterval: Duration = .milliseconds(500)
    /// Deliveries in flight at once per process; 0 runs the API alone.
    public var concurrency = 8
    /// Refuse photos that are not http(s) URLs (`CRM_STRICT_PHOTO_URLS=true`); by default the CRM judges them.
    public var strictPhotoURLs = false

    public init(webhookURL: String?, apiKey: String?) {
        self.webhookURL = webhookURL
        self.apiKey = apiKey
    }

    public var maxRetries: Int {
        get { schedule.maxRetries }
        set { schedule.maxRetries = newValue }
    }

    public var retryBase: Duration {
        get { schedule.base }
        set { schedule.base = newValue }
    }

    public static func load(from environment: EnvironmentReader) throws -> RelaySettings {
        let url = try environment.optional("CRM_WEBHOOK_URL").map { _ in try environment.url("CRM_WEBHOOK_URL", default: "") }
        var settings = RelaySettings(
            webhookURL: url,
            apiKey: url == nil
                ? environment.optional("CRM_API_KEY")
                : try environment.required("CRM_API_KEY", expecting: "the CRM's API key, sent as a Bearer token")
        )
        settings.timeout = .seconds(try environment.integer("CRM_TIMEOUT_SECONDS", default: 10, in: 1...120))
        settings.schedule.maxRetries = try environment.integer("CRM_MAX_RETRIES", default: 3, in: 0...20)
        settings.schedule.base = .milliseconds(try environment.integer("CRM_RETRY_BASE_MS", default: 1_000, in: 1...600_000))
        settings.schedule.jitter = Double(try environment.integer("CRM_RETRY_JITTER_PERCENT", default: 20, in: 0...100)) / 100
        settings.breakerFailures = try environment.integer("CRM_BREAKER_FAILURES", default: 5, in: 1...1_000)
        settings.breakerProbeInterval = .seconds(try environment.integer("CRM_BREAKER_PROBE_SECONDS", default: 30, in: 1...3_600))
        settings.lease = .seconds(try environment.integer("CRM_LEASE_SECONDS", default: 30, in: 1...3_600))
        settings.pollInterval = .milliseconds(try environment.integer("CRM_POLL_MS", default: 500, in: 10...60_000))
        settings.concurrency = try environment.integer("CRM_WORKER_CONCURRENCY", default: 8, in: 0...256)
        settings.strictPhotoURLs = environment.optional("CRM_STRICT_PHOTO_URLS") == "true"
        return settings
    }
}
