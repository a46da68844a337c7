import Foundation
import Testing

@testable import Gateway

@Suite struct GatewayConfigTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func parse(_ text: String, environment: [String: String] = [:]) throws -> GatewayConfig {
        try GatewayConfig.parse(text, file: "test.conf", environment: environment)
    }

    func parseError(_ text: String) -> GatewayConfigError? {
        do {
            _ = try parse(text)
            return nil
        } catch {
            return error as? GatewayConfigError
        }
    }

    @Test func theRepositoryFileRoutesEveryPublicEndpoint() throws {
        let text = try String(contentsOf: Self.repositoryRoot.appendingPathComponent("gateway.conf"), encoding: .utf8)
        let config = try GatewayConfig.parse(text, environment: [:])
        let table = RouteTable(config.routes)
        let expected: [(String, String, String, String)] = [
            ("GET", "/api/pricing", "billing-webhooks", "none"),
            ("GET", "/api/me", "billing-webhooks", "user"),
            ("POST", "/api/create-checkout", "billing-webhooks", "user"),
            ("POST", "/api/webhooks/stripe-billing", "billing-webhooks", "stripe-signature(STRIPE_WEBHOOK_SECRET)"),
            ("GET", "/api/stripe/connect", "stripe-sync", "user-optional"),
            ("GET", "/api/stripe/connections", "stripe-sync", "user"),
            ("DELETE", "/api/stripe/connections/42", "stripe-sync", "user"),
            ("POST", "/api/stripe/connections/42/sync", "stripe-sync", "user"),
            ("POST", "/api/stripe/sync", "stripe-sync", "bearer-secret(CRON_SECRET)"),
            ("GET", "/api/metrics", "stripe-sync", "user"),
            ("POST", "/api/insights", "insights-usage", "user"),
            ("GET", "/api/usage/current", "insights-usage", "user"),
            ("POST", "/functions/v1/revio-data", "revio-data", "user"),
            ("POST", "/api/crm/events/customer-registration", "crm-relay", "bearer-secret(CRM_EVENTS_KEY)"),
            ("POST", "/api/crm/events/repair-request", "crm-relay", "bearer-secret(CRM_EVENTS_KEY)"),
            ("GET", "/api/crm/integration", "crm-relay", "admin"),
            ("POST", "/api/crm/integration/test", "crm-relay", "admin"),
            ("PATCH", "/api/crm/integration/retry-failed", "crm-relay", "admin"),
            ("POST", "/api/devops/generate-key", "devops-api", "admin"),
            ("GET", "/api/devops/keys", "devops-api", "admin"),
            ("DELETE", "/api/devops/keys/7", "devops-api", "admin"),
            ("GET", "/api/devops/sync/users", "devops-api", "api-key(sync:users)"),
            ("GET", "/api/devops/sync/revenue", "devops-api", "api-key(sync:revenue)"),
            ("GET", "/api/devops/sync/commissions", "devops-api", "api-key(sync:commissions)"),
            ("POST", "/api/devops/webhook", "devops-api", "api-key(webhook:write)"),
            ("POST", "/api/ops/integrations", "devops-api", "admin"),
            ("POST", "/api/ops/integrations/7/check", "devops-api", "admin"),
            ("GET", "/api/ops/overview", "devops-api", "admin"),
            ("POST", "/api/ops/gcp/budget", "devops-api", "bearer-secret(GCP_BUDGET_PUSH_TOKEN)"),
            ("POST", "/api/ops/retell/webhook/7", "devops-api", "none"),
        ]
        for (method, path, service, auth) in expected {
            guard case .route(let route) = table.match(method: .init(method)!, path: path) else {
                Issue.record("\(method) \(path) is not routed")
                continue
            }
            #expect(route.service == service, "\(method) \(path)")
            #expect(route.auth.description == auth, "\(method) \(path)")
        }
        #expect(config.services.map(\.name) == ["billing-webhooks", "stripe-sync", "insights-usage", "revio-data", "crm-relay", "devops-api"])
        #expect(config.listenPort == 8080)
    }

    @Test func expandsVariablesWithDefaults() throws {
        let text = """
            listen 127.0.0.1:${PORT:-9000}
            service a ${A_URL:-http://127.0.0.1:1}
            route GET /x a auth=none limit=5/second body=2k timeout=250ms
            """
        let defaults = try parse(text)
        #expect(defaults.listenPort == 9000)
        #expect(defaults.services[0].url == "http://127.0.0.1:1")
        #expect(defaults.services[0].urlVariable == "A_URL")
        #expect(defaults.routes[0].limit == RateLimit(requests: 5, windowSeconds: 1))
        #expect(defaults.routes[0].bodyLimit == 2048)
        #expect(defaults.routes[0].timeout == .milliseconds(250))
        let overridden = try parse(text, environment: ["PORT": "9100", "A_URL": "http://a.internal:8101"])
        #expect(overridden.listenPort == 9100)
        #expect(overridden.services[0].url == "http://a.internal:8101")
    }

    @Test(arguments: [
        ("service a http://127.0.0.1:1\n\nroute GET /x b auth=none", 3, "unknown service \"b\""),
        ("service a http://127.0.0.1:1\nroute GET /x a", 2, "expected: route"),
        ("service a http://127.0.0.1:1\nroute GET /x a limit=5/minute something=1", 2, "unknown option"),
        ("service a http://127.0.0.1:1\nroute GET /x a limit=5/minute", 2, "names its auth scheme"),
        ("service a http://127.0.0.1:1\n# comment\nroute GET /x a auth=magic", 3, "unknown auth scheme"),
        ("service a http://127.0.0.1:1\nroute GET /x a auth=none limit=lots", 2, "limit must look like"),
        ("service a http://127.0.0.1:1\nroute GET /x a auth=none body=huge", 2, "body must be a size"),
        ("service a http://127.0.0.1:1\nroute FETCH /x a auth=none", 2, "unknown method"),
        ("service a http://127.0.0.1:1\nroute GET x a auth=none", 2, "must start with /"),
        ("service a http://127.0.0.1:1\nroute GET /*/x a auth=none", 2, "may only end a path"),
        ("listen 0.0.0.0:80\nlisten 0.0.0.0:81", 2, "listen is given twice"),
        ("\n\nfrobnicate yes", 3, "unknown directive"),
        ("service a ${A_URL}", 1, "A_URL is not set"),
        ("service a ftp://x", 1, "http(s) URL"),
        ("service a http://127.0.0.1:1\nservice a http://127.0.0.1:2", 2, "declared twice"),
    ])
    func errorsNameTheLine(text: String, line: Int, message: String) throws {
        let error = try #require(parseError(text))
        #expect(error.line == line)
        #expect(error.message.contains(message), "\(error)")
        #expect(error.description.hasPrefix("test.conf:\(line): "))
    }
}

@Suite struct RouteTableTests {
    let table: RouteTable

    init() throws {
        let config = try GatewayConfig.parse(
            """
            service s http://127.0.0.1:1
            route GET    /api/items/{id}        s auth=user
            route DELETE /api/items/{id}        s auth=admin
            route GET    /files/*               s auth=none
            route *      /any                   s auth=none
            """,
            environment: [:]
        )
        table = RouteTable(config.routes)
    }

    func auth(_ method: String, _ path: String) -> String? {
        if case .route(let route) = table.match(method: .init(method)!, path: path) { return route.auth.description }
        return nil
    }

    @Test func matchesParametersRestAndAnyMethod() {
        #expect(auth("GET", "/api/items/7") == "user")
        #expect(auth("DELETE", "/api/items/7") == "admin")
        #expect(auth("HEAD", "/api/items/7") == "user")
        #expect(auth("GET", "/api/items") == nil)
        #expect(auth("GET", "/api/items/7/extra") == nil)
        #expect(auth("GET", "/files/a/b/c.txt") == "none")
        #expect(auth("GET", "/files") == nil)
        #expect(auth("PATCH", "/any") == "none")
    }

    @Test func aRoutedPathWithAnotherMethodIsNotAllowed() {
        #expect(table.match(method: .post, path: "/api/items/7") == .methodNotAllowed(allowed: ["GET", "DELETE"]))
        #expect(table.match(method: .get, path: "/nothing") == RouteTable.Match.none)
    }
}

@Suite struct FixedWindowCounterTests {
    @Test func allowsTheLimitPerWindowThenResets() {
        var counter = FixedWindowCounter()
        let limit = RateLimit(requests: 2, windowSeconds: 60)
        #expect(counter.hit("a", limit: limit, nowSeconds: 120) == .init(allowed: true, limit: 2, remaining: 1, resetSeconds: 60))
        #expect(counter.hit("a", limit: limit, nowSeconds: 130) == .init(allowed: true, limit: 2, remaining: 0, resetSeconds: 50))
        #expect(counter.hit("a", limit: limit, nowSeconds: 179) == .init(allowed: false, limit: 2, remaining: 0, resetSeconds: 1))
        #expect(counter.hit("b", limit: limit, nowSeconds: 179).allowed)
        #expect(counter.hit("a", limit: limit, nowSeconds: 180) == .init(allowed: true, limit: 2, remaining: 1, resetSeconds: 60))
    }

    @Test func aPerMinuteRouteNeverResetsAPerHourOne() {
        var counter = FixedWindowCounter(capacity: 10)
        let hourly = RateLimit(requests: 100, windowSeconds: 3600)
        let minutely = RateLimit(requests: 20, windowSeconds: 60)
        for _ in 0..<100 { _ = counter.hit("hourly key", limit: hourly, nowSeconds: 3600) }
        // Per-minute traffic of many identities, long after the per-minute windows ended, within the same hour.
        for second in 0..<20 { _ = counter.hit("minute \(second % 5)", limit: minutely, nowSeconds: Int64(3600 + 60 * second)) }
        #expect(counter.hit("hourly key", limit: hourly, nowSeconds: 3600 + 1300).allowed == false)
    }

    @Test func memoryStaysBoundedUnderAMillionKeys() {
        var counter = FixedWindowCounter(capacity: 10_000)
        let limit = RateLimit(requests: 1, windowSeconds: 3600)
        var largest = 0
        for key in 0..<1_000_000 {
            _ = counter.hit("flood \(key)", limit: limit, nowSeconds: 1)
            largest = max(largest, counter.keyCount)
        }
        #expect(largest <= 20_000)
        #expect(counter.keyCount <= 20_000)
        #expect(counter.peek("flood 999999", limit: limit, nowSeconds: 1).allowed == false, "recent keys are still counted")
    }

    @Test func peekingCountsNothing() {
        var counter = FixedWindowCounter()
        let limit = RateLimit(requests: 1, windowSeconds: 60)
        for _ in 0..<5 { #expect(counter.peek("a", limit: limit, nowSeconds: 0).allowed) }
        #expect(counter.hit("a", limit: limit, nowSeconds: 0).allowed)
        #expect(counter.peek("a", limit: limit, nowSeconds: 0) == .init(allowed: false, limit: 1, remaining: 0, resetSeconds: 60))
    }
}
