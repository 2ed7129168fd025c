//! The money side of an instance, through the ledger: deposits with deterministic bank
//! references, the close of a period, balances of accounts by the user's name, the audit and
//! the whole ledger to compare between runs.

use fedflattr::domain::money::Money;
use fedflattr::ledger::{self, Account, audit::AuditReport};
use fedflattr::settle::close::{self, CloseError, CloseOptions, CloseReport, CloseRules};

use super::instance::Instance;
use super::period;

impl Instance {
    /// Records a deposit the way `fedflattr admin deposit` does; the bank references are
    /// `test-0`, `test-1`… in order, so two instances fed the same story have equal ledgers.
    pub async fn deposit(&self, name: &str, amount: &str) {
        let user = self.user_id(name).await;
        let amount = Money::parse_payable("amount", amount).expect("a test's amount parses");
        let n = self
            .deposits
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let mut tx = self.state.store.begin().await.expect("a transaction");
        ledger::deposit(
            &mut tx,
            user,
            amount,
            &format!("test-{n}"),
            self.state.clock.now(),
        )
        .await
        .expect("the deposit is recorded");
        tx.commit().await.expect("the deposit commits");
    }

    /// Moves the clock to the first second of November 2026 and closes October, as the
    /// scheduler would then: the end of most tests' story.
    pub async fn close_october(&self) -> CloseReport {
        self.set_time("2026-11-01T00:00:00Z");
        self.close("2026-10").await
    }

    /// Closes the period `YYYY-MM` at the instance's current time, as the scheduler would.
    pub async fn close(&self, name: &str) -> CloseReport {
        self.try_close(name, CloseOptions::default())
            .await
            .expect("the close runs")
    }

    /// Closes a period with options (e.g. stopping after a stage, as a crash would) and
    /// returns what the close returned.
    pub async fn try_close(
        &self,
        name: &str,
        options: CloseOptions,
    ) -> Result<CloseReport, CloseError> {
        close::close(
            &self.state.store,
            period(name),
            self.close_rules(),
            self.state.clock.now(),
            options,
        )
        .await
    }

    /// The close rules of this instance's settings (fee rate, held periods).
    pub fn close_rules(&self) -> CloseRules {
        CloseRules {
            fee_rate: self.state.settings.fee_rate,
            held_periods: self.state.settings.held_periods,
        }
    }

    /// The balance of `account`, in ten-thousandths of the currency (0 for an account not yet
    /// opened).
    pub async fn account(&self, account: &Account) -> i64 {
        ledger::balance(self.state.store.pool(), account)
            .await
            .expect("the balance reads")
            .minor()
    }

    /// What the local user `name` has funded and not yet spent, in ten-thousandths.
    pub async fn wallet(&self, name: &str) -> i64 {
        self.account(&Account::Wallet(self.user_id(name).await))
            .await
    }

    /// What the local user `name`'s things earned and was not yet paid, in ten-thousandths.
    pub async fn earnings(&self, name: &str) -> i64 {
        self.account(&Account::Earnings(self.user_id(name).await))
            .await
    }

    /// The instance's fees, in ten-thousandths.
    pub async fn fees(&self) -> i64 {
        self.account(&Account::Fees).await
    }

    /// What this instance owes the peer at `origin` (`http://beta.test:PORT`), in
    /// ten-thousandths.
    pub async fn payable(&self, origin: &str) -> i64 {
        self.balance(&format!("payable:{origin}")).await
    }

    /// The balance of the account named `account` (`fees`, `world`, `clearing:2026-10`…), in
    /// ten-thousandths; 0 for an account not yet opened.
    pub async fn balance(&self, account: &str) -> i64 {
        sqlx::query_scalar::<_, i64>("SELECT balance FROM accounts WHERE name = $1")
            .bind(account)
            .fetch_optional(self.state.store.pool())
            .await
            .expect("the balance reads")
            .unwrap_or(0)
    }

    /// Runs `fedflattr admin audit`'s checks.
    pub async fn audit(&self) -> AuditReport {
        fedflattr::ledger::audit::run(self.state.store.pool())
            .await
            .expect("the audit runs")
    }

    /// Asserts that every check of the audit passes.
    pub async fn assert_books_balance(&self) {
        let report = self.audit().await;
        assert!(report.ok, "audit failed: {report:#?}");
    }

    /// Every posting, in order, as (transaction reference, account name, amount): the ledger
    /// to compare between runs.
    pub async fn ledger_lines(&self) -> Vec<(String, String, i64)> {
        sqlx::query_as(
            "SELECT t.reference, a.name, p.amount FROM postings p
             JOIN ledger_transactions t ON t.id = p.transaction_id
             JOIN accounts a ON a.id = p.account_id
             ORDER BY t.reference, a.name, p.amount",
        )
        .fetch_all(self.state.store.pool())
        .await
        .expect("the ledger reads")
    }
}
