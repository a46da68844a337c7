import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
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
            #expect(summary["success_rate"]?.decimal == (Decimal(successes) / Decimal(counted.count)).rounded(4))
            #expect(summary["mean_duration_ms"]?.decimal == (Decimal(finished.reduce(0, +)) / Decimal(finished.count)).rounded(0))
            #expect(summary["waiting"]?.decimal == Decimal(instance.executions.filter { $0.status == "waiting" }.count))
            #expect(summary["active_workflows"]?.decimal == Decimal(instance.workflows.filter(\.active).count))
            let worst = try #require(summary["workflows"]?.items.first)
            let worstRuns = counted.filter { $0.workflowID == worst["workflow_id"]?.string }
            #expect(
                worst["error_rate"]?.decimal == (Decimal(worstRuns.filter { $0.status != "success" }.count) / Decimal(worstRuns.count)).rounded(4)
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
                #expect(row["cpu_percent"]?.decimal == (100 * (1 - idle / all)).rounded(2))
                let total = inWindow("memory_total")[0].last!.1
                let available = inWindow("memory_available")[0].last!.1
                #expect(row["memory_percent"]?.decimal == (100 * (1 - available / total)).rounded(2))
                #expect(row["bandwidth_in_mbps"]?.decimal == (inWindow("bandwidth")[0].last!.1).rounded(3))
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
                summary["connect_rate"]?.decimal == (Decimal(terminal.filter { $0.status == "ended" }.count) / Decimal(terminal.count)).rounded(4)
            )
            #expect(summary["error_rate"]?.decimal == (Decimal(terminal.filter { $0.status == "error" }.count) / Decimal(terminal.count)).rounded(4))
            #expect(summary["goal_success_rate"]?.decimal == (Decimal(analysed.filter { $0 }.count) / Decimal(analysed.count)).rounded(4))
            #expect(summary["latency_p50_ms"]?.decimal == percentile(50))
            #expect(summary["latency_p95_ms"]?.decimal == percentile(95))
            #expect(summary["cost_cents"]?.decimal == counted.map(\.costCents).reduce(0, +).rounded(0))
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
