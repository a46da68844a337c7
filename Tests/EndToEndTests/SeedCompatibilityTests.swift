import AsyncHTTPClient
import Crypto
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import PostgresNIO
import Sandbox
import ServiceKit
import TestSupport
import Testing

/// Our answer against a seed's example answer: every field the seed shows is there with the same JSON type, arrays'
/// items and objects' fields checked all the way down, enumerated fields hold one of the seed's values. Values
/// themselves may differ. Objects at `keyedByPlan` paths are keyed by our own plan names, each value shaped as the
/// seed's first; fields at `optional` paths (TypeScript's `field?`) may be absent. No I/O.
enum SeedShape {
    struct Rules {
        var enumerations: [String: Set<String>] = [:]
        var keyedByPlan: Set<String> = []
        var optional: Set<String> = []
    }

    static func problems(ours: JSONValue?, seed: JSONValue, rules: Rules = Rules(), at path: String = "") -> [String] {
        let label = path.isEmpty ? "the answer" : path
        guard let ours else { return rules.optional.contains(path) ? [] : ["\(label) is missing"] }
        if let allowed = rules.enumerations[path], let value = ours.string, !allowed.contains(value) {
            return ["\(label) is \"\(value)\", not one of \(allowed.sorted().joined(separator: ", "))"]
        }
        switch (seed, ours) {
        case (.object(let expected), .object(let actual)):
            if rules.keyedByPlan.contains(path), let shape = expected.values.first {
                return actual.keys.sorted().flatMap { problems(ours: actual[$0], seed: shape, rules: rules, at: "\(path).\($0)") }
            }
            return expected.keys.sorted().flatMap { key in
                problems(ours: actual[key], seed: expected[key]!, rules: rules, at: path.isEmpty ? key : "\(path).\(key)")
            }
        case (.array(let expected), .array(let actual)):
            guard let shape = expected.first else { return [] }
            return actual.flatMap { problems(ours: $0, seed: shape, rules: rules, at: "\(path)[]") }
        case (.number, .number), (.string, .string), (.bool, .bool), (.null, _):
            return []
        default:
            return ["\(label) is \(kind(ours)), the seed's is \(kind(seed))"]
        }
    }

    static func kind(_ value: JSONValue) -> String {
        switch value {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }

    static func parse(_ text: String) throws -> JSONValue { try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) }
}

@Suite struct SeedShapeTests {
    @Test func aMissingFieldAWrongTypeAndAnUnknownValueAreEachReported() throws {
        let seed = try SeedShape.parse(#"{"a": 1, "b": {"c": "x"}, "list": [{"kind": "one"}]}"#)
        #expect(SeedShape.problems(ours: try SeedShape.parse(#"{"a": 2, "b": {"c": "y"}, "list": [], "extra": true}"#), seed: seed).isEmpty)
        let wrong = try SeedShape.parse(#"{"a": "2", "b": {}, "list": [{"kind": "three"}]}"#)
        #expect(
            SeedShape.problems(ours: wrong, seed: seed, rules: .init(enumerations: ["list[].kind": ["one", "two"]]))
                == ["a is a string, the seed's is a number", "b.c is missing", #"list[].kind is "three", not one of one, two"#]
        )
        #expect(SeedShape.problems(ours: try SeedShape.parse(#"{"a": 1, "b": {}, "list": []}"#), seed: seed, rules: .init(optional: ["b.c"])).isEmpty)
    }
}

/// Every example request of the seeds, sent as written through the real gateway to the real services; every example
/// answer's structure against ours. Each test names the seed file and section its examples come from.
@Suite(.serialized) struct SeedCompatibilityTests {
    static let devopsWebhookSecret = "seed-devops-webhook-secret-0123456789"

    /// A database of its own, so the sync worker here takes only this suite's jobs.
    static func run(_ body: @Sendable (WholeSystem) async throws -> Void) async throws {
        try await TestSupport.withIsolatedDatabase { database in
            var sandbox = SandboxSettings()
            sandbox.revioCustomers = 60
            try await withWholeSystem(
                database: database,
                sandbox: sandbox,
                variables: ["DEVOPS_WEBHOOK_SECRET": Self.devopsWebhookSecret, "REVIO_API_KEY": sandbox.revioAPIKey, "SYNC_WORKERS": "1"],
                body
            )
        }
    }

    static func json(_ response: TestResponse) throws -> JSONValue { try JSONDecoder().decode(JSONValue.self, from: Data(buffer: response.body)) }

    static func admin() async throws -> HTTPFields {
        [
            .authorization: "Bearer \(try await TestSupport.userToken("seed-admin", email: "seed.admin@example.com", admin: true))",
            .contentType: "application/json",
        ]
    }

    /// 004_f2cbda3853c5468d.txt: "API Key Test" (generate-key), "Use API Key in DevOps Module" (the sync calls and the
    /// deployment webhook), "Webhook Integration" (deployment and alert) and the three "Data Sync Examples" answers.
    @Test func theDevOpsModulesRequestsAndAnswersAreTheSeeds() async throws {
        try await Self.run { system in
            let gateway = system.gateway
            let created = try await gateway.execute(
                uri: "/api/devops/generate-key",
                method: .post,
                headers: try await Self.admin(),
                body: ByteBuffer(string: SeedExamples.generateKey)
            )
            #expect(created.status == .created, "\(String(buffer: created.body))")
            let key = try #require(try Self.json(created)["key"]?.string)
            #expect(key.hasPrefix("rr_"))

            let answers = [SeedExamples.usersResponse, SeedExamples.revenueResponse, SeedExamples.commissionsResponse]
            for (path, example) in zip(SeedExamples.devopsSyncPaths, answers) {
                let response = try await gateway.execute(uri: path, method: .get, headers: [HTTPField.Name("x-api-key")!: key])
                #expect(response.status == .ok, "\(path): \(String(buffer: response.body))")
                let problems = SeedShape.problems(
                    ours: try Self.json(response),
                    seed: try SeedShape.parse(example),
                    rules: .init(keyedByPlan: ["subscription_breakdown"])
                )
                #expect(problems.isEmpty, "\(path): \(problems)")
            }
            let ours = try Self.json(
                try await gateway.execute(uri: "/api/devops/sync/users", method: .get, headers: [HTTPField.Name("x-api-key")!: key])
            )
            if case .object(let roles)? = ours["users_by_role"] { #expect(Set(roles.keys) == ["admin", "member", "reseller", "pro_reseller"]) }
            let commissions = try Self.json(
                try await gateway.execute(uri: "/api/devops/sync/commissions", method: .get, headers: [HTTPField.Name("x-api-key")!: key])
            )
            if case .object(let levels)? = commissions["commission_by_tier"] {
                #expect(Set(levels.keys) == ["membership", "reseller", "pro_reseller"])
            }

            let adminStream = try await StreamReader.open(
                gateway.baseURL + "/api/stream",
                token: try await TestSupport.userToken("seed-admin", email: "seed.admin@example.com", admin: true),
                http: HTTPClient.shared
            )
            defer { adminStream.close() }
            let now = ISO8601DateFormatter().string(from: Date())
            for body in [
                SeedExamples.deploymentWithoutEnvironment(timestamp: now), SeedExamples.deployment(timestamp: now),
                SeedExamples.alert(timestamp: now),
            ] {
                let mac = HMAC<SHA256>.authenticationCode(for: Data(body.utf8), using: SymmetricKey(data: Data(Self.devopsWebhookSecret.utf8)))
                let response = try await gateway.execute(
                    uri: "/api/devops/webhook",
                    method: .post,
                    headers: [
                        .contentType: "application/json", HTTPField.Name("x-api-key")!: key,
                        HTTPField.Name("X-Signature")!: "sha256=" + Data(mac).hexString,
                    ],
                    body: ByteBuffer(string: body)
                )
                #expect(response.status == .accepted, "\(body): \(String(buffer: response.body))")
            }
            let status = try Self.json(try await gateway.execute(uri: "/api/devops/status", method: .get, headers: try await Self.admin()))
            let deployments = status["recentDeployments"]?.arrayItems ?? []
            #expect(deployments.count == 2 && deployments.allSatisfy { $0["environment"]?.string == "production" })
            let alert = try #require(status["openAlerts"]?.arrayItems.first)
            #expect(alert["severity"]?.string == "warning" && alert["level"]?.string == "medium")
            let live = try #require(try await adminStream.read { $0.event == "alert" }.last)
            let pushed = try SeedShape.parse(live.data)
            #expect(pushed["id"] == alert["id"] && pushed["level"]?.string == "medium" && pushed["source"]?.string == "devops")
        }
    }

    /// 000_fc43e50822f3977f.txt: "Request" with each `dataType`, "Response Structure" and "Data Types", and the
    /// `useRevioData` example's two figures.
    @Test func theSalesDashboardsCallsAnswerTheSeedsTypes() async throws {
        try await Self.run { system in
            let token = try await TestSupport.userToken("seed-sales", email: "sales@example.com")
            var answers: [String: JSONValue] = [:]
            for dataType in SeedExamples.revioDataTypes {
                let response = try await system.gateway.execute(
                    uri: "/functions/v1/revio-data",
                    method: .post,
                    headers: [.authorization: "Bearer \(token)", .contentType: "application/json"],
                    body: ByteBuffer(string: SeedExamples.revioRequest(dataType))
                )
                #expect(response.status == .ok, "\(dataType): \(String(buffer: response.body))")
                let answer = try Self.json(response)
                #expect(answer["source"]?.string == "live")
                let problems = SeedShape.problems(ours: answer, seed: try SeedShape.parse(SeedExamples.revioResponse), rules: SeedExamples.revioRules)
                #expect(problems.isEmpty, "\(dataType): \(problems.prefix(10))")
                // `data?.subscriptions.active` must never meet null.
                #expect(answer["data"]?["subscriptions"]?["active"]?.decimal != nil, "\(dataType)")
                answers[dataType] = answer
            }
            // The hook's total, added up as the seed's JavaScript does, is the dollars of Revio's monthly revenue.
            let revioCents = system.sandbox.revio.revenue.filter { $0.currency == "usd" }.reduce(Int64(0)) { $0 + $1.monthlyRevenueCents }
            for dataType in ["all", "customers_by_revenue"] {
                let groups = answers[dataType]?["data"]?["customers_by_revenue"]?.arrayItems ?? []
                let dollars = groups.reduce(0.0) { $0 + NSDecimalNumber(decimal: $1["total_revenue"]?.decimal ?? 0).doubleValue }
                #expect((dollars * 100).rounded() == Double(revioCents), "\(dataType)")
            }
            #expect(revioCents > 0)
            let counts = try #require(answers["subscriptions"]?["data"]?["subscriptions"])
            let customers = try #require(answers["all"]?["data"]?["pagination"]?["total_customers"]?.decimal)
            let statuses = ["active", "trial", "churned"].compactMap { counts[$0]?.decimal }
            #expect(statuses.reduce(0, +) == customers, "every customer is active, trial or churned")
        }
    }

    /// 002_659773049dc16552.txt: "Webhook Payloads" (both, placeholders in `photos` included), delivered to the CRM's
    /// `/webhooks/…` with the Bearer key, and the admin component's three calls.
    @Test func theWebsitesEventsReachTheCRMAsTheSeedWritesThem() async throws {
        try await Self.run { system in
            let website: HTTPFields = [.authorization: "Bearer \(TestSupport.crmEventsKey)", .contentType: "application/json"]
            for (path, body) in [
                ("/api/crm/events/customer-registration", SeedExamples.customerRegistration),
                ("/api/crm/events/repair-request", SeedExamples.repairRequest),
            ] {
                let response = try await system.gateway.execute(uri: path, method: .post, headers: website, body: ByteBuffer(string: body))
                #expect(response.status == .accepted, "\(path): \(String(buffer: response.body))")
            }
            try await TestSupport.eventually("both events to reach the CRM") { system.sandbox.crm.receipts.count >= 2 }
            // The fake CRM answers 401 to anything but its Bearer key: what it kept came with the key.
            let receipts = system.sandbox.crm.receipts
            #expect(Set(receipts.map(\.kind)) == ["customer-registration", "repair-request"])
            let repair = try #require(receipts.first { $0.kind == "repair-request" })
            #expect(try SeedShape.parse(repair.payload) == (try SeedShape.parse(SeedExamples.repairRequest)), "the CRM receives the seed's payload")

            let admin = try await Self.admin()
            try await TestSupport.eventually("the admin component to show both delivered") {
                let status = try Self.json(try await system.gateway.execute(uri: "/api/crm/integration", method: .get, headers: admin))
                return status["counts"]?["delivered"]?.decimal == 2
            }
            let status = try Self.json(try await system.gateway.execute(uri: "/api/crm/integration", method: .get, headers: admin))
            #expect(status["configured"] == .bool(true))
            #expect((status["features"]?.arrayItems ?? []).contains { $0["name"]?.string == "repair_request" })
            #expect(try await system.gateway.execute(uri: "/api/crm/integration/test", method: .post, headers: admin).status == .ok)
            let retried = try await system.gateway.execute(
                uri: "/api/crm/integration/retry-failed",
                method: .patch,
                headers: admin,
                body: ByteBuffer(string: "{}")
            )
            #expect(retried.status == .ok, "\(String(buffer: retried.body))")
        }
    }
}

extension SeedCompatibilityTests {
    /// 001_4a23d09d01c6eb2a.txt, "Customer Journey Data Flow" 1 to 6: signup, Connect and its callback, the automatic
    /// sync, the dashboard's metrics, insights, usage and the upgrade, each on the path the seed names.
    @Test func aRevPilotUsersJourneyFollowsTheSeedsDataFlow() async throws {
        try await Self.run { system in
            let gateway = system.gateway
            let userID = "seed-journey-" + UUID().uuidString.lowercased()
            let token = try await TestSupport.userToken(userID, email: "\(userID)@example.com")
            let bearer: HTTPFields = [.authorization: "Bearer \(token)"]

            // 1. Signup: the profile starts on starter.
            let profile = try Self.json(try await gateway.execute(uri: "/api/me", method: .get, headers: bearer))
            #expect(profile["subscription_tier"]?.string == "starter")

            // 2. Connect Stripe: /api/stripe/connect, Stripe's page, the callback /api/stripe/connect?code=…, auto-sync.
            let account = "acct_seed" + UUID().uuidString.prefix(8).lowercased()
            system.sandbox.connect.addAccount(id: account, name: "Seed Analytics", currency: "usd")
            var data = ConnectedAccountData.generate(customers: 12, seed: 11)
            data.subscriptions[0].status = .active
            system.sandbox.connect.setData(data, for: account)
            let start = try await gateway.execute(uri: "/api/stripe/connect", method: .get, headers: bearer)
            #expect(start.status == .ok, "\(String(buffer: start.body))")
            let authorize = try #require(try Self.json(start)["url"]?.string.flatMap(URL.init(string:)))
            let cookie = try #require(start.headers[.setCookie]?.split(separator: ";").first.map(String.init))
            let approved = try await system.stripe.execute(uri: authorize.path + "?" + authorize.query! + "&account=\(account)", method: .get)
            let back = try #require(approved.headers[.location])
            let callbackPath = "https://app.example.com/api/stripe/connect?"
            #expect(back.hasPrefix(callbackPath) && back.contains("code="))
            let callback = try await gateway.execute(
                uri: "/api/stripe/connect?" + back.dropFirst(callbackPath.count),
                method: .get,
                headers: [.cookie: cookie]
            )
            #expect(callback.status == .found)
            #expect(callback.headers[.location] == "https://app.example.com/dashboard?connected=true")
            var connection: JSONValue?
            try await TestSupport.eventually("the automatic first sync", timeout: .seconds(60)) {
                connection = try Self.json(try await gateway.execute(uri: "/api/stripe/connections", method: .get, headers: bearer))["connections"]?
                    .arrayItems.first
                return connection?["lastSyncedAt"]?.string != nil
            }
            #expect(connection?["stripeAccountId"]?.string == account && connection?["businessName"]?.string == "Seed Analytics")
            let connectionID = try #require(connection?["id"]?.string)

            // 3. The dashboard: /api/metrics?connectionId= with MRR, ARR, churn, customers and the trend.
            let metrics = try await gateway.execute(uri: "/api/metrics?connectionId=\(connectionID)", method: .get, headers: bearer)
            #expect(metrics.status == .ok, "\(String(buffer: metrics.body))")
            let latest = try #require(try Self.json(metrics)["latest"])
            for field in ["mrr", "arr", "total_customers", "active_subscriptions", "new_mrr", "churned_mrr"] {
                #expect(latest[field] != nil, "\(field)")
            }
            #expect(!(try Self.json(metrics)["trend"]?.arrayItems.isEmpty ?? true))

            // 4. Insights on /api/insights?connectionId=, tracked as usage and pushed to the user's live stream.
            let stream = try await StreamReader.open(gateway.baseURL + "/api/stream", token: token, http: HTTPClient.shared)
            defer { stream.close() }
            let insight = try await gateway.execute(uri: "/api/insights?connectionId=\(connectionID)", method: .post, headers: bearer)
            #expect(insight.status == .ok || insight.status == .created, "\(String(buffer: insight.body))")

            // 5. Usage: remaining and the three charges.
            let usage = try Self.json(try await gateway.execute(uri: "/api/usage/current", method: .get, headers: bearer))
            #expect(usage["aiInsightsRemaining"]?.decimal == 4, "starter's five, one used")
            let update = try #require(try await stream.read { $0.event == "usage_update" }.last)
            #expect(try SeedShape.parse(update.data)["usage"]?["aiInsights"]?.decimal == 1)
            #expect(usage["transactionVolumeRemaining"] != nil)
            for charge in ["baseCharge", "aiInsightsOverageCharge", "transactionVolumeOverageCharge"] {
                #expect(usage["billing"]?[charge]?["amount_cents"]?.decimal != nil, "\(charge)")
            }

            // 6. Upgrade: /api/create-checkout {plan: 'professional'}, Stripe's webhooks, the profile's new tier and limits.
            _ = try await TestSupport.upgrade(gateway: gateway, stripe: system.stripe, sandbox: system.sandbox, token: token, plan: "professional")
            let upgraded = try Self.json(try await gateway.execute(uri: "/api/me", method: .get, headers: bearer))
            for (field, value) in SeedExamples.upgradedProfile {
                let ours = upgraded[field].map { $0.string ?? $0.decimal.map { "\($0)" } ?? "" }
                #expect(ours == value, "\(field)")
            }
            #expect(upgraded["stripe_customer_id"]?.string?.hasPrefix("cus_") == true)
            #expect(upgraded["stripe_subscription_id"]?.string?.hasPrefix("sub_") == true)
        }
    }
}

extension JSONValue {
    var arrayItems: [JSONValue] {
        if case .array(let items) = self { return items }
        return []
    }

    var decimal: Decimal? {
        if case .number(let value) = self { return value }
        return nil
    }
}
