import Crypto
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import PlanKit
import Sandbox
import ServiceKit
import TestSupport
import Testing

@testable import DevOpsAPI

/// The monitors through the real gateway and devops-api, the sandbox playing each provider with generated data the
/// test knows. Integrations are created disabled and checked with `…/check`, so no scheduler races the test.
@Suite struct MonitorTests {
    @Test func n8nNumbersMatchTheirDefinitionsAndPagingStopsAtTheWindowStart() async throws {
        try await DevOpsHarness.run { h in
            let key = "n8n-" + UUID().uuidString
            let instance = N8nFake.Instance.generate(workflows: 6, executions: 2_000, hours: 60, now: Date(), seed: 42)
            h.sandbox.n8n.setInstance(apiKey: key, instance)
            let id = try await h.createIntegration(kind: "n8n", credentials: ["api_key": key])
            let report = try await h.check(id)
            #expect(report["outcome"] == "ok", "\(report)")

            // The window the connector read, as it asked n8n's insights for it.
            let calls = h.sandbox.faults.requests.filter { $0.header("X-N8N-API-KEY") == key }
            let insights = try #require(calls.first { $0.path == "/api/v1/insights/summary" })
            let window = try #require(MonitorExpectations.window(fromQuery: insights.query ?? ""))
            let counted = instance.executions.filter {
                $0.mode != "manual" && ["success", "error", "crashed"].contains($0.status) && window.contains($0.startedAt!)
            }
            let successes = counted.filter { $0.status == "success" }.count
            let finished = counted.compactMap { run in run.stoppedAt.map { Int64(($0.timeIntervalSince(run.startedAt!) * 1000).rounded()) } }

            let summary = try #require(report["integration"]?["summary"])
            #expect(summary["executions"]?.decimal == Decimal(counted.count))
            #expect(summary["failed"]?.decimal == Decimal(counted.count - successes))
            #expect(summary["success_rate"]?.decimal == (Decimal(successes) / Decimal(counted.count)).rounded(places: 4))
            #expect(summary["mean_duration_ms"]?.decimal == (Decimal(finished.reduce(0, +)) / Decimal(finished.count)).rounded(places: 0))
            #expect(summary["waiting"]?.decimal == Decimal(instance.executions.filter { $0.status == "waiting" }.count))
            #expect(summary["active_workflows"]?.decimal == Decimal(instance.workflows.filter(\.active).count))
            let worst = try #require(summary["workflows"]?.items.first)
            let worstRuns = counted.filter { $0.workflowID == worst["workflow_id"]?.string }
            #expect(
                worst["error_rate"]?.decimal
                    == (Decimal(worstRuns.filter { $0.status != "success" }.count) / Decimal(worstRuns.count)).rounded(places: 4)
            )
            #expect(summary["insights"]?["total"]?.decimal == Decimal(counted.count), "the licensed instance's own summary is kept beside ours")

            // Newest first: pages are read until one holds an execution older than the window, and no further.
            let newestFirst = instance.executions.filter { $0.status == "success" }.sorted { $0.id > $1.id }
            let firstOlder = try #require(newestFirst.firstIndex { $0.startedAt! < window.start })
            let successPages = calls.filter { $0.path == "/api/v1/executions" && ($0.query ?? "").contains("status=success") }
            #expect(successPages.count == firstOlder / 250 + 1)
            #expect(successPages.count < (newestFirst.count + 249) / 250, "the pages before the window are never read")
            #expect(successPages.dropFirst().allSatisfy { ($0.query ?? "").contains("cursor=") })

            // The hourly series and its daily rollup add up to the same successes.
            for bucket in ["hour", "day"] {
                let from = MonitorExpectations.iso(window.start.addingTimeInterval(-86_400))
                let series = try h.json(
                    try await h.admin(.get, "/api/ops/integrations/\(id)/metrics?metric=executions_success&bucket=\(bucket)&from=\(from)")
                )
                #expect(series["points"]?.items.compactMap { $0["value"]?.decimal }.reduce(0, +) == Decimal(successes), "\(bucket)")
            }
            try await h.deleteIntegration(id)
        }
    }

    @Test func aRateLimitedCallWaitsItsRetryAfterAndTheCheckPasses() async throws {
        try await DevOpsHarness.run { h in
            let key = "n8n-" + UUID().uuidString
            h.sandbox.n8n.setInstance(apiKey: key, .generate(workflows: 2, executions: 40, hours: 24, now: Date(), seed: 3))
            let id = try await h.createIntegration(kind: "n8n", credentials: ["api_key": key])
            h.sandbox.faults.add(Fault(pathPrefix: "/api/v1/executions", status: 429, retryAfter: 1, times: 1))
            let report = try await h.check(id)
            #expect(report["outcome"] == "ok", "\(report)")
            #expect(report["retries"]?.decimal == 1)
            let executions = h.sandbox.faults.requests.filter { $0.path == "/api/v1/executions" && $0.header("X-N8N-API-KEY") == key }
            let limited = try #require(executions.firstIndex { $0.faulted })
            let retried = try #require(executions.indices.contains(limited + 1) ? executions[limited + 1] : nil)
            #expect(retried.query == executions[limited].query, "the same page again")
            #expect(retried.receivedAt.timeIntervalSince(executions[limited].receivedAt) >= 1, "Retry-After: 1 is waited out")
            let view = try h.json(try await h.admin(.get, "/api/ops/integrations/\(id)"))
            #expect(view["health"] == "healthy")
            try await h.deleteIntegration(id)
        }
    }

    @Test func refusedCredentialsOpenAnIncidentAtOnceAndTheStatusPageShowsIt() async throws {
        try await DevOpsHarness.run { h in
            let key = "n8n-" + UUID().uuidString
            let id = try await h.createIntegration(kind: "n8n", credentials: ["api_key": "not-" + key])
            let report = try await h.check(id)
            #expect(report["outcome"] == "auth_failed", "\(report)")
            #expect(report["status_code"]?.decimal == 401)
            #expect(report["retries"]?.decimal == 0, "a refused key is not retried")
            let open = try h.json(try await h.admin(.get, "/api/ops/incidents?open=true"))
            let incident = try #require(open["incidents"]?.items.first { $0["integration_id"]?.string == id })
            #expect(incident["reason"] == "auth_failed")
            let status = try h.json(try await h.admin(.get, "/api/devops/status"))
            #expect((status["openAlerts"]?.items ?? []).contains { $0["message"]?.string == incident["message"]?.string })
            let overview = try h.json(try await h.admin(.get, "/api/ops/overview"))
            #expect(overview["integrations"]?.items.first { $0["id"]?.string == id }?["health"] == "unhealthy")

            // The right key, then two good checks: resolved, and gone from the status page's open alerts.
            h.sandbox.n8n.setInstance(apiKey: key, .generate(workflows: 2, executions: 20, hours: 24, now: Date(), seed: 4))
            let patched = try await h.admin(.patch, "/api/ops/integrations/\(id)", body: #"{"credentials":{"api_key":"\#(key)"}}"#)
            #expect(patched.status == .ok, "\(String(buffer: patched.body))")
            #expect(try await h.check(id)["outcome"] == "ok")
            #expect(try await h.openIncident(for: id) != nil, "one success is not yet a recovery")
            #expect(try await h.check(id)["outcome"] == "ok")
            #expect(try await h.openIncident(for: id) == nil)
            let resolved = try h.json(try await h.admin(.get, "/api/ops/incidents?open=false"))
            #expect(resolved["incidents"]?.items.contains { $0["integration_id"]?.string == id && $0["resolved_at"]?.isNull == false } == true)
            let after = try h.json(try await h.admin(.get, "/api/devops/status"))
            #expect(!(after["openAlerts"]?.items ?? []).contains { $0["message"]?.string == incident["message"]?.string })
            try await h.deleteIntegration(id)
        }
    }

    @Test func threeFailedChecksOpenAnIncidentAndTwoGoodOnesResolveIt() async throws {
        try await DevOpsHarness.run { h in
            let key = "n8n-" + UUID().uuidString
            h.sandbox.n8n.setInstance(apiKey: key, .generate(workflows: 2, executions: 20, hours: 24, now: Date(), seed: 5))
            let id = try await h.createIntegration(kind: "n8n", credentials: ["api_key": key])
            // A 404 is an answer n8n does not document for the call: failed at once, without retries to wait for.
            h.sandbox.faults.add(Fault(pathPrefix: "/api/v1/workflows", status: 404, times: 3))
            for attempt in 1...3 {
                #expect(try await h.check(id)["outcome"] == "failed")
                #expect((try await h.openIncident(for: id) != nil) == (attempt == 3), "check \(attempt)")
            }
            #expect(try await h.openIncident(for: id)?["reason"] == "failed")
            #expect(try await h.check(id)["outcome"] == "ok")
            #expect(try await h.check(id)["outcome"] == "ok")
            #expect(try await h.openIncident(for: id) == nil)
            let view = try h.json(try await h.admin(.get, "/api/ops/integrations/\(id)"))
            #expect(view["health"] == "healthy")
            try await h.deleteIntegration(id)
        }
    }

    @Test func digitalOceanNumbersFollowTheCountersAndPagesAreFollowedOnOurHost() async throws {
        try await DevOpsHarness.run { h in
            let token = "do-" + UUID().uuidString
            let account = DigitalOceanFake.Account.generate(droplets: 205, seed: 9)
            h.sandbox.digitalOcean.setAccount(token: token, account)
            let id = try await h.createIntegration(kind: "digitalocean", credentials: ["token": token], config: #"{"max_droplets":3}"#)
            let report = try await h.check(id)
            #expect(report["outcome"] == "ok", "\(report)")
            let summary = try #require(report["integration"]?["summary"])
            #expect(summary["droplets"]?.decimal == 205, "both pages of 200")
            let calls = h.sandbox.faults.requests.filter { $0.header("authorization") == "Bearer \(token)" }
            #expect(calls.contains { $0.path == "/v2/droplets" && ($0.query ?? "").contains("page=2") })
            #expect(summary["month_to_date_usage_cents"]?.decimal == Decimal(string: account.monthToDateUsage)! * 100)

            let watched = summary["watched"]?.items ?? []
            #expect(watched.count == 3)
            for row in watched {
                let droplet = try #require(account.droplets.first { String($0.id) == row["droplet_id"]?.string })
                #expect(droplet.status == "active", "active droplets are watched first")
                let request = try #require(
                    calls.first { $0.path == "/v2/monitoring/metrics/droplet/cpu" && ($0.query ?? "").contains("host_id=\(droplet.id)") }
                )
                let (start, end) = try #require(MonitorExpectations.range(fromQuery: request.query ?? ""))
                func inWindow(_ metric: String) -> [[(Int64, Decimal)]] {
                    DigitalOceanFake.series(metric, droplet: droplet, start: start, end: end, direction: "inbound").map {
                        $0.values.filter { $0.0 <= end }
                    }
                }
                // 100 × (1 − Δidle ÷ Δall) from the first and last reading of each mode.
                let modes = DigitalOceanFake.series("cpu", droplet: droplet, start: start, end: end).map { series in
                    (series.labels["mode"], series.values.filter { $0.0 <= end })
                }
                let increase = { (values: [(Int64, Decimal)]) in values.last!.1 - values.first!.1 }
                let all = modes.map { increase($0.1) }.reduce(0, +)
                let idle = increase(modes.first { $0.0 == "idle" }!.1)
                #expect(row["cpu_percent"]?.decimal == (100 * (1 - idle / all)).rounded(places: 2))
                let total = inWindow("memory_total")[0].last!.1
                let available = inWindow("memory_available")[0].last!.1
                #expect(row["memory_percent"]?.decimal == (100 * (1 - available / total)).rounded(places: 2))
                #expect(row["bandwidth_in_mbps"]?.decimal == (inWindow("bandwidth")[0].last!.1).rounded(places: 3))
            }
            try await h.deleteIntegration(id)
        }
    }

    @Test(arguments: [true, false]) func retellNumbersPoolEveryLatencyReadingWithV3OrTheLegacyListing(v3: Bool) async throws {
        try await DevOpsHarness.run { h in
            let key = "retell-" + UUID().uuidString
            var account = RetellFake.Account.generate(calls: 1_500, hours: 30, now: Date(), seed: 11)
            account.v3 = v3
            h.sandbox.retell.setAccount(apiKey: key, account)
            let id = try await h.createIntegration(kind: "retell", credentials: ["api_key": key])
            let report = try await h.check(id)
            #expect(report["outcome"] == "ok", "\(report)")

            let calls = h.sandbox.faults.requests.filter { $0.header("authorization") == "Bearer \(key)" && $0.path.hasSuffix("/list-calls") }
            #expect(calls.filter { $0.path == "/v2/list-calls" }.isEmpty == v3, "v2 only where v3 is not offered")
            let body = try JSONDecoder().decode(JSONValue.self, from: Data(try #require(calls.first).body.utf8))
            let range = try #require(body["filter_criteria"]?["start_timestamp"])
            let (lower, upper) = (try #require(range["lower_threshold"]?.decimal), try #require(range["upper_threshold"]?.decimal))
            let counted = account.calls.filter { Decimal($0.startMilliseconds) >= lower && Decimal($0.startMilliseconds) <= upper }
            let terminal = counted.filter { ["ended", "error", "not_connected"].contains($0.status) }
            let analysed = counted.compactMap(\.successful)
            let latencies = counted.flatMap(\.latencies).sorted()
            func percentile(_ p: Int) -> Decimal { latencies[Int((Double(p) * Double(latencies.count) / 100).rounded(.up)) - 1] }

            let summary = try #require(report["integration"]?["summary"])
            #expect(summary["calls"]?.decimal == Decimal(terminal.count))
            #expect(
                summary["connect_rate"]?.decimal
                    == (Decimal(terminal.filter { $0.status == "ended" }.count) / Decimal(terminal.count)).rounded(places: 4)
            )
            #expect(
                summary["error_rate"]?.decimal
                    == (Decimal(terminal.filter { $0.status == "error" }.count) / Decimal(terminal.count)).rounded(places: 4)
            )
            #expect(summary["goal_success_rate"]?.decimal == (Decimal(analysed.filter { $0 }.count) / Decimal(analysed.count)).rounded(places: 4))
            #expect(summary["latency_p50_ms"]?.decimal == percentile(50))
            #expect(summary["latency_p95_ms"]?.decimal == percentile(95))
            #expect(summary["cost_cents"]?.decimal == counted.map(\.costCents).reduce(0, +).rounded(places: 0))
            #expect(summary["concurrency_limit"]?.decimal == Decimal(account.limit))
            let pages = calls.filter { $0.path == (v3 ? "/v3/list-calls" : "/v2/list-calls") }
            #expect(pages.count == (v3 ? (counted.count + 999) / 1_000 : counted.count / 1_000 + 1), "pages of 1,000 until the window is read")
            try await h.deleteIntegration(id)
        }
    }

    @Test func supabaseHealthDatabaseAndAuthUsersAreReadAndAnUnhealthyServiceFailsTheCheck() async throws {
        try await DevOpsHarness.run { h in
            let ref = "p" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(19)
            var project = SupabaseFake.Project(accessToken: "sbp_" + UUID().uuidString, serviceRoleKey: "service-" + UUID().uuidString)
            project.authUsers = 4_321
            h.sandbox.supabase.setProject(ref: String(ref), project)
            let id = try await h.createIntegration(
                kind: "supabase",
                credentials: ["access_token": project.accessToken, "service_role_key": project.serviceRoleKey],
                config: #"{"project_ref":"\#(ref)","project_url":"\#(h.sandboxURL)"}"#
            )
            let report = try await h.check(id)
            #expect(report["outcome"] == "ok", "\(report)")
            let summary = try #require(report["integration"]?["summary"])
            #expect(summary["services_healthy"]?.decimal == 6)
            #expect(summary["services"]?["db"] == "ACTIVE_HEALTHY")
            #expect(summary["database_size_bytes"]?.decimal == Decimal(project.databaseSizeBytes))
            #expect(summary["active_connections"]?.decimal == Decimal(project.activeConnections))
            #expect(summary["auth_users"]?.decimal == 4_321)

            project.unhealthy = ["db"]
            h.sandbox.supabase.setProject(ref: String(ref), project)
            let failing = try await h.check(id)
            #expect(failing["outcome"] == "failed")
            #expect(failing["error"]?.string?.contains("db") == true)
            try await h.deleteIntegration(id)
        }
    }

    @Test func vonageCallsBalanceAndSMSFollowTheirDefinitionsAndAWrongKeyIsRefused() async throws {
        try await DevOpsHarness.run { h in
            let account = try VonageFake.Account.generate(calls: 260, messages: 120, hours: 30, now: Date(), seed: 21)
            h.sandbox.vonage.addAccount(account)
            func credentials(privateKey: String) -> [String: String] {
                ["application_id": account.applicationID, "private_key": privateKey, "api_key": account.apiKey, "api_secret": account.apiSecret]
            }
            let config = #"{"rest_url":"\#(h.sandboxURL)","sms":true,"currency":"EUR"}"#
            let id = try await h.createIntegration(kind: "vonage", credentials: credentials(privateKey: account.privateKeyPEM), config: config)
            let report = try await h.check(id)
            #expect(report["outcome"] == "ok", "\(report)")

            let calls = h.sandbox.faults.requests.filter { $0.path == "/v1/calls" && ($0.query ?? "").contains("date_start") }
            let parameters = MonitorExpectations.parameters(try #require(calls.first?.query))
            let start = try #require(parameters["date_start"].flatMap(ProviderJSON.parseDate))
            let end = try #require(parameters["date_end"].flatMap(ProviderJSON.parseDate))
            let counted = account.calls.filter { $0.start >= start && $0.start <= end }
            let ended = counted.filter { VonageMetrics.ended.contains($0.status) }
            let completed = ended.filter { $0.status == "completed" }
            let summary = try #require(report["integration"]?["summary"])
            #expect(summary["calls"]?.decimal == Decimal(ended.count))
            #expect(summary["call_success_rate"]?.decimal == (Decimal(completed.count) / Decimal(ended.count)).rounded(places: 4))
            #expect(
                summary["mean_duration_seconds"]?.decimal
                    == (Decimal(completed.map(\.durationSeconds).reduce(0, +)) / Decimal(completed.count)).rounded(places: 1)
            )
            let cost = counted.compactMap { Decimal(string: $0.price, locale: Locale(identifier: "en_US_POSIX")) }.reduce(0, +)
            #expect(summary["cost"]?.string.flatMap { Decimal(string: $0, locale: Locale(identifier: "en_US_POSIX")) } == cost, "the exact sum")
            #expect(summary["cost_cents"]?.decimal == (cost * 100).rounded(places: 0))
            #expect(summary["balance_cents"]?.decimal == Decimal(string: account.balance)! * 100)
            #expect(summary["currency"] == "eur")
            #expect(calls.count == (counted.count + 99) / 100, "record_index paging, 100 a page")

            let delivered = account.smsStatuses.filter { $0 == "delivered" }.count
            let failed = account.smsStatuses.filter { ["failed", "expired", "rejected"].contains($0) }.count
            #expect(summary["sms_delivery_rate"]?.decimal == (Decimal(delivered) / Decimal(delivered + failed)).rounded(places: 4))
            #expect(summary["sms_pending"]?.decimal == Decimal(account.smsStatuses.count - delivered - failed))
            #expect(h.sandbox.faults.requests.filter { $0.path == "/v2/reports/records" }.count == 3, "TRUNCATED pages of 50 followed")

            // Signed with another key: the JWT is refused, which is an authentication failure.
            let wrong = try await h.createIntegration(kind: "vonage", credentials: credentials(privateKey: SandboxKeys.second), config: config)
            #expect(try await h.check(wrong)["outcome"] == "auth_failed")
            try await h.deleteIntegration(id)
            try await h.deleteIntegration(wrong)
        }
    }

    @Test func googleCloudExchangesItsServiceAccountJWTAndReadsCPUPerInstance() async throws {
        try await DevOpsHarness.run { h in
            let project = try h.sandbox.googleCloud.addProject(id: "revmesh-" + UUID().uuidString.lowercased().prefix(8), instances: 3)
            let keyFile = h.sandbox.googleCloud.keyFile(for: project, tokenURL: h.sandboxURL + "/token")
            let id = try await h.createIntegration(kind: "gcp", credentials: ["service_account": keyFile])
            let report = try await h.check(id)
            #expect(report["outcome"] == "ok", "\(report)")
            let series = try #require(
                h.sandbox.faults.requests.last { $0.path == "/v3/projects/\(project.id)/timeSeries" && ($0.query ?? "").contains("pageSize=500") }
            )
            #expect(series.header("authorization")?.hasPrefix("Bearer ya29.") == true, "the exchanged token, never the key")
            let end = try #require(MonitorExpectations.parameters(series.query ?? "")["interval.endTime"].flatMap(ProviderJSON.parseDate))
            let lastHour = Int64(end.timeIntervalSince1970 - 1) / 3600
            let expected = project.instances.map { (GoogleCloudFake.utilization(instance: $0.id, hour: lastHour) * 100).rounded(places: 2) }
            let summary = try #require(report["integration"]?["summary"])
            #expect(summary["instances"]?.decimal == 3)
            #expect(summary["mean_cpu_percent"]?.decimal == (expected.reduce(0, +) / 3).rounded(places: 2))
            let busiest = summary["busiest"]?.items ?? []
            for row in busiest {
                let index = try #require(project.instances.firstIndex { $0.id == row["instance_id"]?.string })
                #expect(row["cpu_percent"]?.decimal == expected[index])
            }
            #expect(busiest.compactMap { $0["cpu_percent"]?.decimal } == expected.sorted(by: >), "busiest first")

            // A key the account does not have: the token endpoint refuses the grant.
            var forged = try JSONDecoder().decode([String: String].self, from: Data(keyFile.utf8))
            forged["private_key"] = SandboxKeys.second
            let wrong = try await h.createIntegration(
                kind: "gcp",
                credentials: ["service_account": String(decoding: try JSONEncoder().encode(forged), as: UTF8.self)]
            )
            let refused = try await h.check(wrong)
            #expect(refused["outcome"] == "auth_failed", "\(refused)")
            try await h.deleteIntegration(id)
            try await h.deleteIntegration(wrong)
        }
    }

    @Test func budgetNotificationsKeepTheLatestOfEachBudgetAndACrossedThresholdIsAnAlert() async throws {
        try await DevOpsHarness.run { h in
            let budget = UUID().uuidString.lowercased()
            func push(cost: String, threshold: String?, publishedAgo seconds: TimeInterval, messageID: String) -> String {
                let notification =
                    #"{"budgetDisplayName":"Production \#(budget.prefix(6))","costAmount":\#(cost),"costIntervalStart":"2026-12-01T08:00:00Z","#
                    + #""budgetAmount":152.0,"budgetAmountType":"SPECIFIED_AMOUNT","currencyCode":"USD""#
                    + (threshold.map { #","alertThresholdExceeded":\#($0)"# } ?? "") + "}"
                let published = ISO8601DateFormatter().string(from: Date().addingTimeInterval(-seconds))
                return #"{"message":{"data":"\#(Data(notification.utf8).base64EncodedString())","attributes":{"schemaVersion":"1.0","#
                    + #""billingAccountId":"01D4EE-079462-DFD6EC","budgetId":"\#(budget)"},"messageId":"\#(messageID)","publishTime":"\#(published)"},"#
                    + #""subscription":"projects/revmesh/subscriptions/budget-push"}"#
            }
            func send(_ body: String, token: String? = TestSupport.gcpBudgetPushToken) async throws -> TestResponse {
                var headers: HTTPFields = [.contentType: "application/json"]
                if let token { headers[.authorization] = "Bearer \(token)" }
                return try await h.gateway.execute(uri: "/api/ops/gcp/budget", method: .post, headers: headers, body: ByteBuffer(string: body))
            }
            func stored() async throws -> JSONValue? {
                try h.json(try await h.admin(.get, "/api/ops/overview"))["budgets"]?.items.first { $0["budget_id"]?.string == budget }
            }
            func alerts() async throws -> Int {
                try await TestSupport.count("SELECT count(*)::int FROM devops.events WHERE payload->>'budget_id' = \(budget)")
            }
            let first = push(cost: "140.321", threshold: "0.9", publishedAgo: 60, messageID: "m1")
            #expect(try await send(first).status == .noContent)
            #expect(try await stored()?["cost_cents"]?.decimal == 14_032)
            #expect(try await stored()?["budget_cents"]?.decimal == 15_200)
            #expect(try await stored()?["currency"] == "usd")
            #expect(try await alerts() == 1)
            let status = try h.json(try await h.admin(.get, "/api/devops/status"))
            #expect((status["openAlerts"]?.items ?? []).contains { ($0["message"]?.string ?? "").contains("passed 90%") })

            #expect(try await send(first).status == .noContent, "a redelivery is acknowledged")
            #expect(try await send(push(cost: "99.5", threshold: "0.5", publishedAgo: 600, messageID: "m0")).status == .noContent)
            #expect(try await stored()?["cost_cents"]?.decimal == 14_032, "an older notification changes nothing")
            #expect(try await alerts() == 1, "nor does a redelivery raise a second alert")
            #expect(try await send(push(cost: "160", threshold: "1.0", publishedAgo: 0, messageID: "m2")).status == .noContent)
            #expect(try await stored()?["cost_cents"]?.decimal == 16_000)
            #expect(try await alerts() == 2, "the budget itself passed")

            #expect(try await send(first, token: nil).status == .unauthorized)
            #expect(try await send(first, token: "wrong").status == .unauthorized)
            let garbled = #"{"message":{"data":"bm90IGpzb24=","attributes":{},"messageId":"x","publishTime":"yesterday"}}"#
            let refused = try await send(garbled)
            #expect(refused.status == .badRequest, "\(String(buffer: refused.body))")
        }
    }

    @Test func retellWebhooksAreCheckedAgainstTheIntegrationsKeyAndBringTheNextCollectionForward() async throws {
        try await DevOpsHarness.run { h in
            let key = "retell-" + UUID().uuidString
            h.sandbox.retell.setAccount(apiKey: key, .generate(calls: 10, hours: 24, now: Date(), seed: 12))
            let id = try await h.createIntegration(kind: "retell", credentials: ["api_key": key])
            #expect(try await h.check(id)["outcome"] == "ok")
            // Enabled behind the API's back, so it is not due now: the replica tests' schedulers poll any due integration.
            try await TestSupport.withPostgres { postgres in
                try await postgres.query(
                    "UPDATE devops.integrations SET enabled = true WHERE id = \(UUID(uuidString: id)!)",
                    logger: TestSupport.logger
                )
            }
            func webhook(_ body: String, key signing: String = key, at time: Date = Date(), to target: String = id) async throws -> TestResponse {
                let stamp = String(Int64(time.timeIntervalSince1970 * 1000))
                let digest = HMAC<SHA256>.authenticationCode(for: Data((body + stamp).utf8), using: SymmetricKey(data: Data(signing.utf8)))
                return try await h.gateway.execute(
                    uri: "/api/ops/retell/webhook/\(target)",
                    method: .post,
                    headers: [HTTPField.Name("X-Retell-Signature")!: "v=\(stamp),d=\(Data(digest).hexString)", .contentType: "application/json"],
                    body: ByteBuffer(string: body)
                )
            }
            func minutesUntilNextCheck() async throws -> Int {
                try await TestSupport.count(
                    "SELECT ceil(extract(epoch FROM next_check_at - now()) / 60)::int FROM devops.integrations WHERE id = \(UUID(uuidString: id)!)"
                )
            }
            #expect(try await minutesUntilNextCheck() >= 9, "ten minutes away after the check")
            let ended = #"{"event":"call_ended","call":{"call_id":"call_1","call_status":"ended"}}"#
            #expect(try await webhook(ended, key: "someone-else").status == .unauthorized)
            #expect(try await webhook(ended, at: Date().addingTimeInterval(-600)).status == .unauthorized, "older than 5 minutes")
            #expect(try await minutesUntilNextCheck() >= 9, "refused webhooks change nothing")
            #expect(try await webhook(ended).status == .noContent)
            #expect(try await minutesUntilNextCheck() <= 1, "a minute after the last check at most")
            #expect(try await webhook(#"{"event":"call_started","call":{}}"#).status == .noContent)
            #expect(try await webhook(ended, to: UUID().uuidString).status == .notFound)
            try await h.deleteIntegration(id)
        }
    }

    /// What `make run` registers: one integration of each kind against the sandbox, each of which checks out.
    @Test func everyKindTheSandboxOffersChecksOut() async throws {
        try await DevOpsHarness.run { h in
            let offered = try await h.stripe.execute(uri: "/_sandbox/monitors?base_url=\(h.sandboxURL)", method: .get)
            let bodies = try h.json(offered).items
            #expect(Set(bodies.compactMap { $0["kind"]?.string }) == Set(IntegrationKind.allCases.map(\.rawValue)))
            let run = UUID().uuidString.prefix(8)
            for var body in bodies {
                guard case .object(var fields) = body else { continue }
                fields["name"] = .string("\(fields["name"]?.string ?? "") \(run)")
                fields["enabled"] = false
                body = .object(fields)
                let created = try await h.admin(.post, "/api/ops/integrations", body: String(decoding: try JSONEncoder().encode(body), as: UTF8.self))
                #expect(created.status == .created, "\(String(buffer: created.body))")
                let id = try #require(try h.json(created)["id"]?.string)
                let report = try await h.check(id)
                #expect(report["outcome"] == "ok", "\(fields["kind"]?.string ?? ""): \(report)")
                #expect(report["integration"]?["summary"]?.fields?.isEmpty == false)
                try await h.deleteIntegration(id)
            }
        }
    }

    @Test func hourlySamplesAreKeptThirteenMonthsAndCheckRecordsThirtyDays() async throws {
        try await DevOpsHarness.run { h in
            let id = try await h.createIntegration(kind: "n8n", credentials: ["api_key": "k"])
            let integration = try #require(UUID(uuidString: id))
            try await TestSupport.withPostgres { postgres in
                for (months, metric) in [(12, "kept"), (14, "dropped")] {
                    try await postgres.query(
                        """
                        INSERT INTO devops.metric_samples (integration_id, metric, bucket_start, kind, value)
                        VALUES (\(integration), \(metric), now() - make_interval(months => \(months)::int), 'counter', 1)
                        """,
                        logger: TestSupport.logger
                    )
                }
                for days in [29, 31] {
                    try await postgres.query(
                        """
                        INSERT INTO devops.check_runs (integration_id, worker, started_at, outcome, latency_ms, calls, retries)
                        VALUES (\(integration), 'test', now() - make_interval(days => \(days)::int), 'ok', 1, 1, 0)
                        """,
                        logger: TestSupport.logger
                    )
                }
                try await MonitorSamples.prune(postgres: postgres, logger: TestSupport.logger)
            }
            let samples = try await TestSupport.count(
                "SELECT count(*)::int FROM devops.metric_samples WHERE integration_id = \(integration) AND metric = 'kept'"
            )
            let dropped = try await TestSupport.count(
                "SELECT count(*)::int FROM devops.metric_samples WHERE integration_id = \(integration) AND metric = 'dropped'"
            )
            let runs = try await TestSupport.count("SELECT count(*)::int FROM devops.check_runs WHERE integration_id = \(integration)")
            #expect(samples == 1 && dropped == 0)
            #expect(runs == 1)
            try await h.deleteIntegration(id)
        }
    }

    @Test func badInputOnEveryRouteIsRefusedAndStoresNothing() async throws {
        try await DevOpsHarness.run { h in
            let name = "bad-input-" + UUID().uuidString
            func integrations() async throws -> Int {
                try await TestSupport.count("SELECT count(*)::int FROM devops.integrations WHERE name LIKE \(name + "%")")
            }
            let refusedBodies = [
                #"{"kind":"n8n","#,
                #"{"kind":"jenkins","name":"\#(name)","credentials":{}}"#,
                #"{"kind":"n8n","name":"\#(name)","base_url":"\#(h.sandboxURL)","credentials":{}}"#,
                #"{"kind":"n8n","name":"\#(name)","base_url":"javascript:alert(1)","credentials":{"api_key":"k"}}"#,
                #"{"kind":"n8n","name":"\#(name)","base_url":"\#(h.sandboxURL)","credentials":{"api_key":"k"},"poll_seconds":30}"#,
                #"{"kind":"n8n","name":"\#(name)","base_url":"\#(h.sandboxURL)","credentials":{"api_key":"k"},"config":{"max_pages":0}}"#,
                #"{"kind":"n8n","name":"\#(name)","base_url":"\#(h.sandboxURL)","credentials":{"api_key":7}}"#,
                #"{"kind":"n8n","name":"\#(name)","base_url":"\#(h.sandboxURL)","credentials":{"api_key":"k\u0000"}}"#,
            ]
            for body in refusedBodies {
                let response = try await h.admin(.post, "/api/ops/integrations", body: body)
                #expect(response.status == .badRequest, "\(body): \(String(buffer: response.body))")
                #expect(try h.json(response)["error"]?["code"]?.string?.isEmpty == false)
            }
            #expect(try await integrations() == 0)

            let id = try await h.createIntegration(kind: "n8n", name: name, credentials: ["api_key": "k"])
            let duplicate = try await h.admin(
                .post,
                "/api/ops/integrations",
                body: #"{"kind":"n8n","name":"\#(name)","base_url":"\#(h.sandboxURL)","credentials":{"api_key":"k"}}"#
            )
            #expect(duplicate.status == .conflict)
            for patch in [#"{"poll_seconds":5}"#, #"{"credentials":{"token":"x"}}"#, #"{"base_url":"not a url"}"#, #"{"enabled":"yes"}"#] {
                let response = try await h.admin(.patch, "/api/ops/integrations/\(id)", body: patch)
                #expect(response.status == .badRequest, "\(patch): \(String(buffer: response.body))")
            }
            #expect(try h.json(try await h.admin(.get, "/api/ops/integrations/\(id)"))["poll_seconds"]?.decimal == 600, "nothing half-written")
            for query in [
                "metric=nope", "metric=executions_success&bucket=minute", "metric=executions_success&from=yesterday",
                "metric=executions_success&from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z",
                "metric=executions_success&from=2026-01-01T00:00:00Z&to=2026-03-01T00:00:00Z",
            ] {
                let response = try await h.admin(.get, "/api/ops/integrations/\(id)/metrics?\(query)")
                #expect(response.status == .badRequest, "\(query): \(String(buffer: response.body))")
            }
            #expect(try await h.admin(.get, "/api/ops/incidents?open=maybe").status == .badRequest)
            for path in ["/api/ops/integrations/not-a-uuid", "/api/ops/integrations/\(UUID())"] {
                #expect(try await h.admin(.get, path).status == .notFound)
                #expect(try await h.admin(.patch, path, body: #"{"name":"x"}"#).status == .notFound)
                #expect(try await h.admin(.delete, path).status == .notFound)
                #expect(try await h.admin(.post, path + "/check").status == .notFound)
                #expect(try await h.admin(.get, path + "/metrics?metric=executions_success").status == .notFound)
            }
            let user = try await DevOpsHarness.newUser("not-admin")
            let forbidden = try await h.gateway.execute(uri: "/api/ops/overview", method: .get, headers: [.authorization: "Bearer \(user.token)"])
            #expect(forbidden.status == .forbidden)
            #expect(try await integrations() == 1)
            try await h.deleteIntegration(id)
        }
    }

    @Test func credentialsAreNeverAnswered() async throws {
        try await DevOpsHarness.run { h in
            let key = "n8n-secret-" + UUID().uuidString
            h.sandbox.n8n.setInstance(apiKey: key, .generate(workflows: 1, executions: 5, hours: 24, now: Date(), seed: 6))
            let created = try await h.admin(
                .post,
                "/api/ops/integrations",
                body: #"{"kind":"n8n","name":"\#(key.suffix(12))","base_url":"\#(h.sandboxURL)","credentials":{"api_key":"\#(key)"},"enabled":false}"#
            )
            let id = try #require(try h.json(created)["id"]?.string)
            var answers = [created]
            answers.append(try await h.admin(.post, "/api/ops/integrations/\(id)/check"))
            for path in ["/api/ops/integrations", "/api/ops/integrations/\(id)", "/api/ops/overview"] {
                answers.append(try await h.admin(.get, path))
            }
            answers.append(try await h.admin(.patch, "/api/ops/integrations/\(id)", body: #"{"name":"renamed \#(key.suffix(12))"}"#))
            for answer in answers {
                #expect(!String(buffer: answer.body).contains(key))
            }
            #expect(try h.json(answers[2])["integrations"]?.items.first { $0["id"]?.string == id }?["credentials_set"] == ["api_key"])
            let stored = try await TestSupport.count(
                "SELECT count(*)::int FROM devops.integrations WHERE id = \(UUID(uuidString: id)!) AND credentials_sealed NOT LIKE \("%" + key + "%")"
            )
            #expect(stored == 1, "sealed at rest")
            try await h.deleteIntegration(id)
        }
    }
}

extension DevOpsHarness {
    /// Creates a disabled integration against the sandbox; its id.
    func createIntegration(kind: String, name: String? = nil, credentials: [String: String], config: String = "{}") async throws -> String {
        let body: JSONValue = [
            "kind": .string(kind), "name": .string(name ?? "\(kind) \(UUID().uuidString)"), "base_url": .string(sandboxURL),
            "credentials": .object(credentials.mapValues(JSONValue.string)), "enabled": false,
            "config": try JSONDecoder().decode(JSONValue.self, from: Data(config.utf8)),
        ]
        let response = try await admin(.post, "/api/ops/integrations", body: String(decoding: try JSONEncoder().encode(body), as: UTF8.self))
        #expect(response.status == .created, "\(String(buffer: response.body))")
        return try #require(try json(response)["id"]?.string)
    }

    func check(_ id: String) async throws -> JSONValue {
        let response = try await admin(.post, "/api/ops/integrations/\(id)/check")
        #expect(response.status == .ok, "\(String(buffer: response.body))")
        return try json(response)
    }

    func openIncident(for id: String) async throws -> JSONValue? {
        try json(try await admin(.get, "/api/ops/incidents?open=true"))["incidents"]?.items.first { $0["integration_id"]?.string == id }
    }

    func deleteIntegration(_ id: String) async throws {
        #expect(try await admin(.delete, "/api/ops/integrations/\(id)").status == .noContent)
    }
}

extension JSONValue {
    var decimal: Decimal? {
        if case .number(let value) = self { return value }
        return nil
    }
}

/// What a test needs to recompute a connector's numbers by their definitions.
enum MonitorExpectations {
    static func iso(_ date: Date) -> String { date.formatted(Date.ISO8601FormatStyle()) }

    static func parameters(_ query: String) -> [String: String] {
        Dictionary(
            query.split(separator: "&").compactMap { pair in
                let parts = pair.split(separator: "=", maxSplits: 1)
                return parts.count == 2 ? (String(parts[0]), String(parts[1])) : nil
            },
            uniquingKeysWith: { $1 }
        )
    }

    /// `startDate` and `endDate` of n8n's insights call.
    static func window(fromQuery query: String) -> CollectionWindow? {
        let parameters = parameters(query)
        guard let start = parameters["startDate"].flatMap(ProviderJSON.parseDate), let end = parameters["endDate"].flatMap(ProviderJSON.parseDate)
        else { return nil }
        return CollectionWindow(start: start, end: end)
    }

    /// `start` and `end` (Unix seconds) of a DigitalOcean monitoring call.
    static func range(fromQuery query: String) -> (Int64, Int64)? {
        let parameters = parameters(query)
        guard let start = parameters["start"].flatMap({ Int64($0) }), let end = parameters["end"].flatMap({ Int64($0) }) else { return nil }
        return (start, end)
    }
}
