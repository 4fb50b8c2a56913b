// A process manager: one handler that starts an instance and sets a deadline, one keyed by a
// field of its event that ends it, a deadline that sends a command, and a `#[rejected]`.

#[derive(ProcessManager, Default, Serialize, Deserialize)]
#[process(name = "payment-deadline", sends = [Order])]
pub struct PaymentDeadline {
    order: String,
}

#[handlers]
impl PaymentDeadline {
    #[on(start)]
    fn placed(&mut self, _e: &OrderPlaced, meta: &EventMeta, steps: &mut Steps<Self>) {
        self.order = meta.stream_id.clone();
        steps.schedule(Duration::from_secs(15 * 60), PaymentDue);
    }

    #[on(correlate = order_id, end)]
    fn paid(&mut self, _e: &PaymentTaken) {}

    #[deadline]
    fn payment_due(&mut self, _d: PaymentDue, steps: &mut Steps<Self>) {
        steps.send::<Order>(&self.order, OrderCommand::Cancel { reason: "not paid in time".into() });
        steps.end();
    }

    #[rejected]
    fn refused(&mut self, _r: &RejectedCommand) -> Result<(), String> {
        Err(format!("the order {} could not be cancelled", self.order))
    }
}
