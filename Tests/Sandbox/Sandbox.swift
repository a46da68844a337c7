import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import ServiceKit
import Synchronization

/// What the sandbox starts with. Tests build it directly; the `sandbox` executable reads it from the environment.
public struct SandboxSettings: Sendable {
    public var host = "127.0.0.1"
    public var port = 0
    /// The base URL its own links (checkout pages) use; by default where it listens.
    public var publicURL: String?
    public var stripePrices: [SandboxPrice] = SandboxPrice.revmeshPlans
    /// Where Stripe events go, and the secret they are signed with.
    public var stripeWebhookURL: String?
    public var stripeWebhookSecret: String?
    /// Where connected accounts' events go (the Connect endpoint), and the secret they are signed with.
    public var connectWebhookURL: String?
    public var connectWebhookSecret: String?
    /// The Bearer key the fake CRM accepts.
    public var crmAPIKey = "crm_sandbox_key"
    public var revioAPIKey = "revio_sandbox_key"
    public var openAIAPIKey = "openai_sandbox_key"
    /// The monitored systems' credentials, each with generated data behind it.
    public var n8nAPIKey = "n8n_sandbox_key"
    public var digitalOceanToken = "do_sandbox_token"
    public var retellAPIKey = "retell_sandbox_key"
    public var supabaseAccessToken = "sbp_sandbox_token"
    public var supabaseServiceRoleKey = "supabase_sandbox_service_key"
    /// The size and seed of the generated Revio customer base.
    public var revioCustomers = 1_000
    public var revioSeed: UInt64 = 7
    /// A generated connected account to serve from the start: `SANDBOX_CONNECT_ACCOUNT=acct_id:customers:subscriptions:invoices`.
    public var connectAccount: (id: String, customers: Int, subscriptions: Int, invoices: Int)?
    public var logLevel: Logger.Level = .warning

    public init() {}

    public static func load(from environment: EnvironmentReader) throws -> SandboxSettings {
        var settings = SandboxSettings()
        settings.host = environment.optional("SANDBOX_HOST") ?? "127.0.0.1"
        settings.port = try environment.integer("SANDBOX_PORT", default: 8199, in: 0...65535)
        settings.publicURL = environment.optional("SANDBOX_PUBLIC_URL")
        settings.stripeWebhookURL = environment.optional("SANDBOX_STRIPE_WEBHOOK_URL")
        settings.stripeWebhookSecret = environment.optional("SANDBOX_STRIPE_WEBHOOK_SECRET")
        settings.connectWebhookURL = environment.optional("SANDBOX_CONNECT_WEBHOOK_URL")
        settings.connectWebhookSecret = environment.optional("SANDBOX_CONNECT_WEBHOOK_SECRET")
        settings.crmAPIKey = environment.optional("SANDBOX_CRM_API_KEY") ?? settings.crmAPIKey
        settings.revioAPIKey = environment.optional("SANDBOX_REVIO_API_KEY") ?? settings.revioAPIKey
        settings.openAIAPIKey = environment.optional("SANDBOX_OPENAI_API_KEY") ?? settings.openAIAPIKey
        settings.n8nAPIKey = environment.optional("SANDBOX_N8N_API_KEY") ?? settings.n8nAPIKey
        settings.digitalOceanToken = environment.optional("SANDBOX_DIGITALOCEAN_TOKEN") ?? settings.digitalOceanToken
        settings.retellAPIKey = environment.optional("SANDBOX_RETELL_API_KEY") ?? settings.retellAPIKey
        settings.supabaseAccessToken = environment.optional("SANDBOX_SUPABASE_ACCESS_TOKEN") ?? settings.supabaseAccessToken
        settings.supabaseServiceRoleKey = environment.optional("SANDBOX_SUPABASE_SERVICE_ROLE_KEY") ?? settings.supabaseServiceRoleKey
        settings.revioCustomers = try environment.integer("SANDBOX_REVIO_CUSTOMERS", default: 1_000, in: 0...1_000_000)
        settings.logLevel = try environment.logLevel()
        if let account = environment.optional("SANDBOX_CONNECT_ACCOUNT") {
            let parts = account.split(separator: ":")
            guard parts.count == 4, let customers = Int(parts[1]), let subscriptions = Int(parts[2]), let invoices = Int(parts[3]) else {
                throw ConfigurationError(variable: "SANDBOX_CONNECT_ACCOUNT", expected: "must be acct_id:customers:subscriptions:invoices")
            }
            settings.connectAccount = (String(parts[0]), customers, subscriptions, invoices)
        }
        return settings
    }
}

/// The fakes of every outside system, on one port, each able to fail on request.
public struct Sandbox: Sendable {
    public let faults = FaultInjector()
    public let stripe: StripeFake
    public let crm: CRMFake
    public let revio: RevioFake
    public let openAI: OpenAIFake
    public let connect: ConnectFake
    public let n8n = N8nFake()
    public let digitalOcean = DigitalOceanFake()
    public let retell = RetellFake()
    public let supabase = SupabaseFake()
    public let vonage = VonageFake()
    public let googleCloud = GoogleCloudFake()
    private let monitorKeys = MonitorKeys()
    let http: HTTPClient
    let settings: SandboxSettings

    public init(_ settings: SandboxSettings) {
        self.settings = settings
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .internalCalls)
        stripe = StripeFake(
            publicURL: settings.publicURL ?? "http://\(settings.host):\(settings.port)",
            prices: settings.stripePrices,
            webhookURL: settings.stripeWebhookURL,
            webhookSecret: settings.stripeWebhookSecret,
            http: http
        )
        crm = CRMFake(apiKey: settings.crmAPIKey)
        revio = RevioFake(size: settings.revioCustomers, seed: settings.revioSeed, apiKey: settings.revioAPIKey)
        openAI = OpenAIFake(apiKey: settings.openAIAPIKey)
        connect = ConnectFake(http: http, webhookURL: settings.connectWebhookURL, webhookSecret: settings.connectWebhookSecret)
        n8n.setInstance(apiKey: settings.n8nAPIKey, .generate(workflows: 8, executions: 1_500, hours: 48, now: Date(), seed: 1))
        digitalOcean.setAccount(token: settings.digitalOceanToken, .generate(droplets: 4, seed: 1))
        retell.setAccount(apiKey: settings.retellAPIKey, .generate(calls: 600, hours: 48, now: Date(), seed: 1))
        supabase.setProject(
            ref: "sandboxproject",
            .init(accessToken: settings.supabaseAccessToken, serviceRoleKey: settings.supabaseServiceRoleKey)
        )
        if let account = settings.connectAccount {
            connect.addAccount(id: account.id, name: "Generated \(account.id)", currency: "usd")
            connect.setData(
                .generate(customers: account.customers, subscriptions: account.subscriptions, invoices: account.invoices, seed: 1),
                for: account.id
            )
        }
    }

    /// Request bodies for `POST /api/ops/integrations`, one per kind, with the credentials this sandbox accepts. The
    /// Vonage application and Google service account keys are made on the first call (key generation is not free).
    func monitorIntegrations(base: String) throws -> [[String: Any]] {
        let (vonageAccount, project) = try monitorKeys.made.withLock { keys in
            if keys == nil {
                let account = try VonageFake.Account.generate(calls: 400, messages: 200, hours: 48, now: Date(), seed: 1)
                vonage.addAccount(account)
                keys = (account, try googleCloud.addProject(id: "revmesh-sandbox", instances: 4))
            }
            return keys!
        }
        func integration(_ kind: String, _ name: String, _ credentials: [String: String], _ config: [String: Any] = [:]) -> [String: Any] {
            ["kind": kind, "name": name, "base_url": base, "credentials": credentials, "config": config, "poll_seconds": 300]
        }
        return [
            integration("n8n", "sandbox n8n", ["api_key": settings.n8nAPIKey]),
            integration("retell", "sandbox Retell", ["api_key": settings.retellAPIKey]),
            integration(
                "vonage",
                "sandbox Vonage",
                [
                    "application_id": vonageAccount.applicationID, "private_key": vonageAccount.privateKeyPEM, "api_key": vonageAccount.apiKey,
                    "api_secret": vonageAccount.apiSecret,
                ],
                ["rest_url": base, "sms": true]
            ),
            integration("digitalocean", "sandbox DigitalOcean", ["token": settings.digitalOceanToken]),
            integration(
                "supabase",
                "sandbox Supabase",
                ["access_token": settings.supabaseAccessToken, "service_role_key": settings.supabaseServiceRoleKey],
                ["project_ref": "sandboxproject", "project_url": base]
            ),
            integration("gcp", "sandbox Google Cloud", ["service_account": googleCloud.keyFile(for: project, tokenURL: base + "/token")]),
        ]
    }

    /// With `port` 0 the checkout links need the bound port: pass it once known (tests do, from the live client).
    public func application() -> some ApplicationProtocol {
        var logger = Logger(label: "sandbox")
        logger.logLevel = settings.logLevel
        let router = Router()
        router.add(middleware: FaultMiddleware(faults: faults))
        router.add(middleware: ConnectedAccountMiddleware(connect: connect))
        router.get("/health") { _, _ in "ok" }
        router.post("/_sandbox/faults") { request, context in
            faults.add(try await request.decode(as: Fault.self, context: context))
            return HTTPResponse.Status.created
        }
        router.delete("/_sandbox/faults") { _, _ in
            faults.clear()
            return HTTPResponse.Status.noContent
        }
        router.get("/_sandbox/requests") { _, _ in try jsonResponse(faults.requests) }
        // What `make run` registers with devops-api: one integration of each kind, watching this sandbox at `base_url`.
        router.get("/_sandbox/monitors") { request, _ in
            guard let base = request.uri.queryParameters["base_url"].map({ String($0).removingPercentEncoding ?? String($0) }) else {
                throw HTTPError(.badRequest, message: "base_url is required")
            }
            return try jsonObjectResponse(try monitorIntegrations(base: base))
        }
        router.post("/_sandbox/stripe/webhook") { request, context in
            let target = try await request.decode(as: [String: String].self, context: context)
            guard let url = target["url"], let secret = target["secret"] else { throw HTTPError(.badRequest, message: "url and secret are required") }
            stripe.setWebhook(url: url, secret: secret)
            return HTTPResponse.Status.noContent
        }
        router.post("/_sandbox/connect/webhook") { request, context in
            let target = try await request.decode(as: [String: String].self, context: context)
            guard let url = target["url"], let secret = target["secret"] else { throw HTTPError(.badRequest, message: "url and secret are required") }
            connect.setWebhook(url: url, secret: secret)
            return HTTPResponse.Status.noContent
        }
        stripe.addRoutes(to: router)
        crm.addRoutes(to: router)
        revio.addRoutes(to: router)
        openAI.addRoutes(to: router)
        connect.addRoutes(to: router)
        n8n.addRoutes(to: router)
        digitalOcean.addRoutes(to: router)
        retell.addRoutes(to: router)
        supabase.addRoutes(to: router)
        vonage.addRoutes(to: router)
        googleCloud.addRoutes(to: router)
        var app = Application(
            router: router,
            configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "sandbox"),
            logger: logger
        )
        app.addServices(HTTPClientService(client: http))
        return app
    }
}

/// The Vonage application and Google service account the sandbox offers `make run`, made once.
final class MonitorKeys: Sendable {
    let made = Mutex<(VonageFake.Account, GoogleCloudFake.Project)?>(nil)
}
