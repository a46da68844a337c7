import Foundation
@testable import RevioData
import Testing

@Suite struct GroupingTests {
    typealias Ticket = RevioRecords.Ticket

    @Test func aCustomersTicketStatusIsItsMostPressingTicket() {
        #expect(RevioGrouping.ticketStatus([Ticket(id: "1", status: "resolved", subject: nil), Ticket(id: "2", status: "open", subject: nil)]) == "open")
        #expect(RevioGrouping.ticketStatus([Ticket(id: "1", status: "closed", subject: nil), Ticket(id: "2", status: "pending", subject: nil)]) == "pending")
        #expect(RevioGrouping.ticketStatus([Ticket(id: "1", status: "closed", subject: nil)]) == "resolved")
        #expect(RevioGrouping.ticketStatus([]) == "no_tickets")
    }

    @Test func revenueTiersUseTheThresholds() {
        let thresholds = RevenueTierThresholds()
        #expect(thresholds.tier(monthlyRevenueCents: 500_000) == "enterprise")
        #expect(thresholds.tier(monthlyRevenueCents: 499_999) == "mid-market")
        #expect(thresholds.tier(monthlyRevenueCents: 100_000) == "mid-market")
        #expect(thresholds.tier(monthlyRevenueCents: 99_999) == "smb")
        #expect(RevenueTierThresholds(enterpriseCents: 10_000, midMarketCents: 1_000).tier(monthlyRevenueCents: 10_000) == "enterprise")
    }

    @Test func subscriptionStatesFoldIntoActiveTrialChurned() {
        #expect(RevioGrouping.subscriptionState(.init(status: "past_due", plan: nil)) == "active")
        #expect(RevioGrouping.subscriptionState(.init(status: "trialing", plan: nil)) == "trial")
        #expect(RevioGrouping.subscriptionState(.init(status: "canceled", plan: nil)) == "churned")
        #expect(RevioGrouping.subscriptionState(nil) == "none")
    }

    @Test func recentInteractionsAreTheFiftyNewestNewestFirst() {
        let transactions = (0..<70).map {
            RevioRecords.Transaction(id: "t\($0)", customerID: "c1", type: "payment", amountCents: Int64($0), currency: "usd", createdAt: String(format: "2026-01-01T00:%02d:00Z", $0), description: nil)
        }
        let recent = RevioGrouping.recentInteractions(transactions.shuffled(), names: ["c1": "Ada"])
        #expect(recent.count == 50)
        #expect(recent.first?.amount == 69)
        #expect(recent.last?.amount == 20)
        #expect(recent.allSatisfy { $0.customerName == "Ada" })
    }

    @Test func groupsFollowTheirOrderAndPageWithTotals() {
        let fetched = FetchedDataset(dataset: DemoData.dataset(customers: 30, thresholds: .init()), fetchedAt: Date(), source: "demo", stale: false)
        let response = DashboardResponse.build(fetched, dataType: .customersByTicket, page: 2, perPage: 3)
        let groups = response.data.customersByTicket
        #expect(groups.map(\.count).reduce(0, +) == 30)
        #expect(groups.map(\.status) == RevioGrouping.ticketOrder.filter { status in groups.contains { $0.status == status } })
        #expect(groups.allSatisfy { $0.customers.count == min(3, max($0.count - 3, 0)) })
        #expect(response.data.customersBySLA.isEmpty)
        #expect(response.data.subscriptions == nil)
    }

    @Test func theDemoDataIsTheSameEveryTime() {
        #expect(DemoData.dataset(thresholds: .init()) == DemoData.dataset(thresholds: .init()))
    }
}
