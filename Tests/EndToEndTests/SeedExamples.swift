import Foundation

/// Every example the seed documents (`../shared/seeds/`) give of a request to Revmesh or an answer from it, in one
/// place, copied as the seeds write them. Where a seed writes JavaScript (`new Date().toISOString()`) the test puts
/// the current time in; where it elides (`[...]`) the example here has an empty array and says so.
enum SeedExamples {
    // MARK: 004_f2cbda3853c5468d.txt, Revenue Ripple ↔ DevOps module

    /// "Use API Key in DevOps Module": `fetch(\`${BASE_URL}/api/devops/sync/users\`, {headers: {'x-api-key': API_KEY}})`,
    /// the same for `/sync/revenue`, and "API Key Test": `curl -H "x-api-key: rr_…" …/api/devops/sync/users`.
    static let devopsSyncPaths = ["/api/devops/sync/users", "/api/devops/sync/revenue", "/api/devops/sync/commissions"]

    /// "Use API Key in DevOps Module", "Send webhook to Revenue Ripple" (no `environment`).
    static func deploymentWithoutEnvironment(timestamp: String) -> String {
        #"{"event_type":"deployment","status":"success","version":"1.2.3","timestamp":"\#(timestamp)"}"#
    }

    /// "Webhook Integration", "Deployment notification".
    static func deployment(timestamp: String) -> String {
        #"{"event_type":"deployment","environment":"production","version":"1.2.3","status":"success","deployTime":45,"timestamp":"\#(timestamp)"}"#
    }

    /// "Webhook Integration", "System alert".
    static func alert(timestamp: String) -> String {
        #"{"event_type":"alert","severity":"warning","message":"High CPU usage detected","details":{"cpu_usage":"92%","threshold":"85%","duration":"5 minutes"},"timestamp":"\#(timestamp)"}"#
    }

    /// "Testing the Integration", "API Key Test": `curl -X POST …/api/devops/generate-key -d '…'` (sent by an admin:
    /// the seed's "Admin-only access to API key management").
    static let generateKey = #"{"user_id": "admin-user-id", "name": "Test Key"}"#

    /// "Data Sync Examples", "User Metrics Response" (`"users": [...]` elided in the seed).
    static let usersResponse = #"""
        {
          "timestamp": "2024-01-15T10:30:00Z",
          "total_users": 150,
          "users_by_role": {"admin": 2, "member": 100, "reseller": 30, "pro_reseller": 18},
          "users_by_status": {"active": 140, "inactive": 10},
          "recent_signups": 12,
          "users": []
        }
        """#

    /// "Data Sync Examples", "Revenue Metrics Response" (`"recent_transactions": [...]` elided in the seed).
    static let revenueResponse = #"""
        {
          "timestamp": "2024-01-15T10:30:00Z",
          "total_revenue": 15750,
          "subscription_revenue": 14500,
          "tripwire_revenue": 1250,
          "monthly_recurring_revenue": 8500,
          "active_subscriptions": 85,
          "subscription_breakdown": {
            "membership": {"count": 50, "revenue": 3500},
            "reseller": {"count": 25, "revenue": 3500},
            "pro_reseller": {"count": 10, "revenue": 7500}
          },
          "recent_transactions": []
        }
        """#

    /// "Data Sync Examples", "Commission Metrics Response" (`"recent_commissions": [...]` elided in the seed).
    static let commissionsResponse = #"""
        {
          "timestamp": "2024-01-15T10:30:00Z",
          "total_commissions": 7875,
          "total_transactions": 156,
          "top_performers": [{"username": "affiliate1", "total_commission": 1250, "transaction_count": 15}],
          "commission_by_tier": {
            "membership": {"count": 75, "total": 3500},
            "reseller": {"count": 45, "total": 2250},
            "pro_reseller": {"count": 36, "total": 2125}
          },
          "recent_commissions": []
        }
        """#

    // MARK: 000_fc43e50822f3977f.txt, Revio integration reference

    /// "Request": `supabase.functions.invoke('revio-data', {body: {dataType: …}})`, each of the six values.
    static let revioDataTypes = ["all", "customers_by_ticket", "customers_by_sla", "customers_by_revenue", "subscriptions", "recent_interactions"]

    static func revioRequest(_ dataType: String) -> String { #"{"dataType":"\#(dataType)"}"# }

    /// "Data Types", `RevioCustomer`, every field written out.
    static let revioCustomer = #"""
        {"id": "c1", "name": "Acme", "email": "a@example.com", "company": "Acme", "subscription_tier": "pro",
         "monthly_revenue": 1200.5, "sla_tier": "gold", "status": "active"}
        """#

    /// "Response Structure" and "Data Types", as one answer: every interface with every field, optional ones included.
    static let revioResponse = #"""
        {
          "success": true,
          "message": "optional",
          "data": {
            "customers_by_ticket": [{"status": "open", "count": 1, "customers": [\#(revioCustomer)]}],
            "customers_by_sla": [{"sla_tier": "gold", "count": 1, "customers": [\#(revioCustomer)]}],
            "customers_by_revenue": [{"revenue_tier": "enterprise", "count": 1, "total_revenue": 1200.5, "customers": [\#(revioCustomer)]}],
            "subscriptions": {"active": 1, "trial": 0, "churned": 0},
            "recent_interactions": [{"customer_name": "Acme", "interaction_type": "payment_received", "amount": 99.99,
              "timestamp": "2024-01-15T10:30:00Z", "details": "optional"}]
          }
        }
        """#

    /// The values each enumerated field of the interfaces may take (the comments and unions of "Data Types"), and the
    /// fields they mark optional (`message?`, `company?`, `subscription_tier?`, `monthly_revenue?`, `sla_tier?`,
    /// `amount?`, `details?`).
    static let revioRules: SeedShape.Rules = {
        let customerLists = [
            "data.customers_by_ticket[].customers[]", "data.customers_by_sla[].customers[]", "data.customers_by_revenue[].customers[]",
        ]
        var rules = SeedShape.Rules()
        rules.enumerations = [
            "data.customers_by_ticket[].status": ["open", "in_progress", "resolved"],
            "data.customers_by_sla[].sla_tier": ["platinum", "gold", "silver", "bronze"],
            "data.customers_by_revenue[].revenue_tier": ["enterprise", "mid_market", "smb"],
            "data.recent_interactions[].interaction_type": [
                "payment_received", "ticket_created", "subscription_upgraded", "subscription_downgraded",
            ],
        ]
        for list in customerLists {
            rules.enumerations["\(list).status"] = ["active", "trial", "churned"]
            rules.enumerations["\(list).sla_tier"] = ["platinum", "gold", "silver", "bronze"]
            for field in ["company", "subscription_tier", "monthly_revenue", "sla_tier"] { rules.optional.insert("\(list).\(field)") }
        }
        rules.optional.formUnion(["message", "data.recent_interactions[].amount", "data.recent_interactions[].details"])
        return rules
    }()

    // MARK: 002_659773049dc16552.txt, RevivaTech → CRM

    /// "Webhook Payloads", "Customer Registration".
    static let customerRegistration = #"""
        {
          "customer": {
            "firstName": "John",
            "lastName": "Doe",
            "email": "john@example.com",
            "phone": "+44123456789",
            "websiteUserId": "rev_user_123",
            "registrationDate": "2024-12-13T10:00:00Z",
            "source": "revivatech",
            "language": "en",
            "status": "pending_approval",
            "preferences": {}
          },
          "metadata": {
            "registrationSource": "website",
            "timestamp": "2024-12-13T10:00:00Z"
          }
        }
        """#

    /// "Webhook Payloads", "Repair Request".
    static let repairRequest = #"""
        {
          "repair": {
            "ticketNumber": "REV-1234567890",
            "websiteRepairId": "booking_uuid",
            "customerEmail": "john@example.com",
            "customerName": "John Doe",
            "deviceType": "Apple MacBook Pro",
            "deviceModel": "MacBook Pro 16\"",
            "issueDescription": "Screen replacement needed",
            "serviceType": "SCREEN_REPAIR",
            "priority": "normal",
            "language": "en",
            "address": "123 Main Street, London",
            "notes": "Handle with care",
            "createdAt": "2024-12-13T10:00:00Z",
            "estimatedCost": 299.99,
            "photos": ["url1", "url2"]
          },
          "customer": {
            "firstName": "John",
            "lastName": "Doe",
            "email": "john@example.com",
            "phone": "+44123456789",
            "websiteUserId": "rev_user_123"
          },
          "metadata": {
            "source": "revivatech",
            "bookingChannel": "website",
            "timestamp": "2024-12-13T10:00:00Z"
          }
        }
        """#

    // MARK: 001_4a23d09d01c6eb2a.txt, RevPilot data flow

    /// "6. Upgrade Plan": `/api/create-checkout` with `plan: 'professional'`.
    static let createCheckout = #"{"plan":"professional"}"#

    /// "5. Check Usage": the figures `/api/usage/current` gives the usage page.
    static let usageFields = [
        "aiInsightsRemaining", "transactionVolumeRemaining", "baseCharge", "aiInsightsOverageCharge", "transactionVolumeOverageCharge",
    ]

    /// "6. Upgrade Plan", "Update user_profiles": the profile fields after the upgrade, and their values for professional.
    static let upgradedProfile: [String: String] = [
        "subscription_tier": "professional", "subscription_status": "active", "monthly_scenario_limit": "3",
        "monthly_ai_insights_limit": "50", "monthly_transaction_volume_limit": "100000",
    ]
}
