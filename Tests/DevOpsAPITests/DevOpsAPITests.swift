import Foundation
import HTTPTypes
import HummingbirdTesting
import PostgresNIO
import ServiceKit
import TestSupport
import Testing

@testable import DevOpsAPI

@Suite struct DevOpsAPITests {
    @Test func aKeyReadsUsersRevenueAndCommissionsAsBillingRecordsThem() async throws {
        try await DevOpsHarness.run { h async throws in
            // A referrer on professional, made a reseller; a user they referred on professional; a business user.
            let referrer = try await DevOpsHarness.newUser("referrer")
            let referred = try await DevOpsHarness.newUser("referred")
            let business = try await DevOpsHarness.newUser("business")
            _ = try await TestSupport.upgrade(gateway: h.gateway, stripe: h.stripe, sandbox: h.sandbox, token: referrer.token, plan: "professional")
            let me = try await h.gateway.execute(uri: "/api/me", method: .get, headers: [.authorization: "Bearer \(referrer.token)"])
            let code = try #require(try h.json(me)["referral_code"]?.string)
            #expect(try await h.admin(.patch, "/api/admin/partners/\(referrer.id)", body: #"{"level":"reseller"}"#).status == .ok)
            _ = try await TestSupport.upgrade(
                gateway: h.gateway,
                stripe: h.stripe,
                sandbox: h.sandbox,
                token: referred.token,
                plan: "professional",
                referralCode: code
            )
            _ = try await TestSupport.upgrade(gateway: h.gateway, stripe: h.stripe, sandbox: h.sandbox, token: business.token, plan: "business")

            let key = try await h.generateKey()
            #expect(APIKeyFormat.isWellFormed(key.key))

            let users = try h.json(try await h.sync("users?per_page=500", key: key.key))
            let total = try #require(users["total_users"]?.int)
            #expect(total >= 3)
            let byStatus = users["users_by_status"]
            #expect((byStatus?["active"]?.int ?? 0) + (byStatus?["inactive"]?.int ?? 0) == total)
            if case .object(let tiers)? = users["users_by_tier"] { #expect(tiers.values.compactMap(\.int).reduce(0, +) == total) }
            let listed = users["users"]?.items ?? []
            #expect(listed.contains { $0["id"]?.string == business.id && $0["tier"]?.string == "business" })
            #expect(listed.contains { $0["id"]?.string == referred.id && $0["tier"]?.string == "professional" })

            let revenue = try h.json(try await h.sync("revenue", key: key.key))
            #expect(revenue["currency"]?.string == "usd")
            let transactions = revenue["recent_transactions"]?.items ?? []
            #expect(transactions.contains { $0["user_id"]?.string == business.id && $0["amount_cents"]?.int == 9_900 && $0["amount"] == .number(99) })
            let businessPlan = try #require(revenue["subscription_breakdown"]?["business"])
            #expect((businessPlan["revenue_cents"]?.int ?? 0) >= 9_900)
            #expect(businessPlan["revenue"] == .number(Decimal(businessPlan["revenue_cents"]?.int ?? 0) / 100))
            let plans = try #require(revenue["subscription_breakdown"]?.fields)
            #expect(Set(plans.keys).isSuperset(of: ["professional", "business", "enterprise"]), "every paid plan, zeros included")
            #expect(revenue["monthly_recurring_revenue_cents"]?.int == plans.values.compactMap { $0["revenue_cents"]?.int }.reduce(0, +))
            let revenueCents = revenue["total_revenue_cents"]?.int ?? 0
            #expect(revenueCents >= 2_900 + 2_900 + 9_900)
            #expect(revenue["subscription_revenue_cents"]?.int == revenueCents, "every payment here paid a subscription")
            #expect(revenue["tripwire_revenue_cents"]?.int == 0 && revenue["tripwire_revenue"] == .number(0))

            let listedReferrer = try #require(listed.first { $0["id"]?.string == referrer.id })
            #expect(listedReferrer["role"]?.string == "reseller", "the seed's role is the partner level")
            #expect((users["users_by_role"]?["reseller"]?.int ?? 0) >= 1)

            let commissions = try h.json(try await h.sync("commissions", key: key.key))
            let performer = try #require((commissions["top_performers"]?.items ?? []).first { $0["user_id"]?.string == referrer.id })
            #expect(performer["username"]?.string == referrer.id, "the email's local part")
            #expect(performer["total_commission_cents"]?.int == 870)
            #expect(performer["total_commission"] == .number(Decimal(string: "8.7")!))
            #expect(performer["transaction_count"]?.int == 1)
            #expect(commissions["commission_by_tier"]?["reseller"]?["total_cents"]?.int == 870)
            #expect(commissions["commission_by_tier"]?["membership"]?["count"]?.int == 0)
            #expect(
                (commissions["recent_commissions"]?.items ?? []).contains {
                    $0["referred_user_id"]?.string == referred.id && $0["rate_percent"]?.int == 30
                }
            )
        }
    }

    @Test func keysAreRefusedForTheRightReasons() async throws {
        try await DevOpsHarness.run { h async throws in
            let usersOnly = try await h.generateKey(permissions: ["sync:users"])
            #expect(try await h.sync("users", key: usersOnly.key).status == .ok)
            let noScope = try await h.sync("revenue", key: usersOnly.key)
            #expect(noScope.status == .forbidden)
            #expect(String(buffer: noScope.body).contains("insufficient_scope"))

            var mistyped = Array(usersOnly.key)
            mistyped[12] = mistyped[12] == "x" ? "y" : "x"
            let badChecksum = try await h.sync("users", key: String(mistyped))
            #expect(badChecksum.status == .unauthorized)
            #expect(String(buffer: badChecksum.body).contains("invalid_api_key"))

            let expiring = try await h.generateKey(permissions: ["sync:users"])
            try await TestSupport.withPostgres { client in
                try await client.query(
                    "UPDATE devops.api_keys SET expires_at = now() - interval '1 day' WHERE id = \(expiring.id)",
                    logger: TestSupport.logger
                )
            }
            let expired = try await h.sync("users", key: expiring.key)
            #expect(expired.status == .unauthorized)
            #expect(String(buffer: expired.body).contains("api_key_expired"))

            let invalidRequest = try await h.admin(
                .post,
                "/api/devops/generate-key",
                body: #"{"name":"","permissions":["sync:everything"],"expiresInDays":900}"#
            )
            #expect(invalidRequest.status == .badRequest)
            let fields = try JSONDecoder().decode(ErrorEnvelope.self, from: Data(buffer: invalidRequest.body)).error.fields?.map(\.field)
            #expect(fields == ["name", "permissions", "expiresInDays"])
        }
    }

    @Test func aRevokedKeyIsRefusedWithinTenSecondsAndTheAuditLogSaysWho() async throws {
        try await DevOpsHarness.run { h async throws in
            let key = try await h.generateKey(permissions: ["sync:users"])
            #expect(try await h.sync("users", key: key.key).status == .ok)
            #expect(try await h.admin(.delete, "/api/devops/keys/\(key.id)").status == .noContent)
            let revokedAt = ContinuousClock.now
            try await TestSupport.eventually("the gateway to refuse the revoked key", timeout: .seconds(15)) {
                let response = try await h.sync("users", key: key.key)
                return response.status == .unauthorized && String(buffer: response.body).contains("api_key_revoked")
            }
            #expect(ContinuousClock.now - revokedAt <= .seconds(11))
            let actions = try await TestSupport.withPostgres { client in
                var actions: [String] = []
                for try await (action, actor) in try await client.query(
                    "SELECT action, actor FROM devops.key_audit_log WHERE key_id = \(key.id) ORDER BY id",
                    logger: TestSupport.logger
                ).decode((String, String).self) { actions.append("\(action) by \(actor)") }
                return actions
            }
            #expect(actions == ["created by devops-admin", "revoked by devops-admin"])
            let list = try await h.admin(.get, "/api/devops/keys")
            #expect(!String(buffer: list.body).contains(key.key))
        }
    }

    @Test func theHundredAndFirstSyncCallInAnHourIs429() async throws {
        try await DevOpsHarness.run { h async throws in
            let key = try await h.generateKey(permissions: ["sync:users"])
            for _ in 0..<100 { #expect(try await h.sync("users?per_page=1", key: key.key).status == .ok) }
            let limited = try await h.sync("users?per_page=1", key: key.key)
            #expect(limited.status == .tooManyRequests)
            #expect(limited.headers[HTTPField.Name("Retry-After")!] != nil)
        }
    }

    @Test func webhookEventsAreCheckedStoredAndShownInStatus() async throws {
        try await DevOpsHarness.run { h async throws in
            let key = try await h.generateKey(permissions: ["webhook:write", "sync:users"])
            let now = ISO8601DateFormatter().string(from: Date())
            let deployment =
                #"{"event_type":"deployment","data":{"environment":"production","version":"2.7.1","status":"success","deployTime":"95s","timestamp":"\#(now)"}}"#
            let deployed = try await h.webhook(deployment, key: key.key)
            #expect(deployed.status == .accepted, "\(String(buffer: deployed.body))")
            let alert =
                #"{"event_type":"alert","data":{"severity":"critical","message":"error rate above 5%","details":{"service":"api"},"timestamp":"\#(now)"}}"#
            let alerted = try await h.webhook(alert, key: key.key)
            #expect(alerted.status == .accepted, "\(String(buffer: alerted.body))")

            #expect(try await h.webhook(deployment, key: key.key, secret: "somebody-elses-secret-0123456789abcd").status == .unauthorized)
            let old = ISO8601DateFormatter().string(from: Date().addingTimeInterval(-600))
            let replayed = #"{"event_type":"alert","data":{"severity":"low","message":"old","timestamp":"\#(old)"}}"#
            #expect(try await h.webhook(replayed, key: key.key).status == .unauthorized)
            let unknown = try await h.webhook(#"{"event_type":"reboot","data":{"timestamp":"\#(now)"}}"#, key: key.key)
            #expect(unknown.status == .badRequest)
            #expect(String(buffer: unknown.body).contains("unknown_event_type"))
            _ = try await h.sync("users", key: key.key)

            let status = try h.json(try await h.admin(.get, "/api/devops/status"))
            #expect((status["recentDeployments"]?.items ?? []).contains { $0["version"]?.string == "2.7.1" })
            #expect((status["openAlerts"]?.items ?? []).contains { $0["message"]?.string == "error rate above 5%" })
            #expect((status["connection"]?["endpoints"]?.items ?? []).contains { $0["endpoint"]?.string == "sync/users" })
            #expect(status["metricsAvailable"] == .bool(true))
            #expect((status["services"]?.items ?? []).contains { $0["service"]?.string == "devops-api" && ($0["requests"]?.int ?? 0) > 0 })
        }
    }

    @Test func aSignedWebhookReplayedWithinItsFiveMinutesIsRefusedAndStoredOnce() async throws {
        try await DevOpsHarness.run { h async throws in
            let key = try await h.generateKey(permissions: ["webhook:write"])
            let version = "replay-" + UUID().uuidString.prefix(8)
            let now = ISO8601DateFormatter().string(from: Date())
            let body = #"{"event_type":"deployment","environment":"production","version":"\#(version)","status":"success","timestamp":"\#(now)"}"#
            #expect(try await h.webhook(body, key: key.key).status == .accepted)
            let replayed = try await h.webhook(body, key: key.key)
            #expect(replayed.status == .conflict)
            #expect(String(buffer: replayed.body).contains("webhook_replayed"))
            let unsigned = try await h.gateway.execute(
                uri: "/api/devops/webhook",
                method: .post,
                headers: [HTTPField.Name("x-api-key")!: key.key, .contentType: "application/json"],
                body: ByteBuffer(string: body)
            )
            #expect(unsigned.status == .unauthorized)
            #expect(String(buffer: unsigned.body).contains("missing_signature"))
            let stored = try await TestSupport.count("SELECT count(*)::int FROM devops.events WHERE version = \(String(version))")
            #expect(stored == 1)
        }
    }
}

@Suite struct DevOpsSettingsTests {
    @Test func webhookSignaturesAreRequiredUnlessInsecureIsChosen() throws {
        #expect(throws: ConfigurationError.self) { try DevOpsSettings.load(from: EnvironmentReader([:])) }
        #expect(throws: ConfigurationError.self) { try DevOpsSettings.load(from: EnvironmentReader(["DEVOPS_WEBHOOK_SECRET": "short"])) }
        #expect(try DevOpsSettings.load(from: EnvironmentReader(["DEVOPS_WEBHOOK_INSECURE": "true"])).webhookSecret == nil)
        let secret = String(repeating: "s", count: 32)
        #expect(try DevOpsSettings.load(from: EnvironmentReader(["DEVOPS_WEBHOOK_SECRET": secret])).webhookSecret == secret)
    }
}
