"""The main flows through Stripe's official Python client (Debian's python3-stripe 5.0.0), as an
integrator writes them: native Python booleans, the client's own pagination, idempotency keys
and webhook verification. Run by test/e2e/python_client.test.ts against a test server:

    ONCEPAY_API_BASE=http://127.0.0.1:PORT ONCEPAY_KEY=sk_test_... /usr/bin/python3 -m unittest -v test_main_flows

Standard library and stripe only.
"""
import http.server
import os
import queue
import threading
import time
import unittest
import uuid

import stripe

stripe.api_base = os.environ["ONCEPAY_API_BASE"]
stripe.api_key = os.environ["ONCEPAY_KEY"]
stripe.max_network_retries = 0


def unique(prefix):
    return "%s-%s" % (prefix, uuid.uuid4().hex)


class Receiver:
    """A webhook receiver on a loopback port: every POST it gets (body bytes, Stripe-Signature) goes to a queue."""

    def __init__(self):
        self.deliveries = queue.Queue()
        deliveries = self.deliveries

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                deliveries.put((body, self.headers.get("Stripe-Signature")))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/webhooks" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class MainFlows(unittest.TestCase):
    def customer(self, **params):
        return stripe.Customer.create(email="%s@example.com" % unique("py"), **params)

    def test_customers_create_retrieve_update(self):
        c = self.customer(name="Ada", metadata={"source": "python"})
        self.assertEqual(c.object, "customer")
        self.assertTrue(c.id.startswith("cus_"))
        self.assertEqual(stripe.Customer.retrieve(c.id).email, c.email)
        updated = stripe.Customer.modify(c.id, name="Ada Lovelace")
        self.assertEqual(updated.name, "Ada Lovelace")
        self.assertEqual(updated.metadata["source"], "python")

    def test_payment_intent_confirmed_at_create_with_a_python_boolean(self):
        pi = stripe.PaymentIntent.create(amount=2000, currency="usd", payment_method="pm_card_visa", confirm=True)
        self.assertEqual(pi.status, "succeeded")
        self.assertEqual(pi.amount_received, 2000)
        self.assertTrue(pi.latest_charge.startswith("ch_"))

    def test_manual_capture_then_refunds(self):
        pi = stripe.PaymentIntent.create(
            amount=3000, currency="usd", payment_method="pm_card_visa", confirm=True, capture_method="manual")
        self.assertEqual(pi.status, "requires_capture")
        self.assertEqual(pi.amount_capturable, 3000)
        captured = stripe.PaymentIntent.capture(pi.id, amount_to_capture=2500)
        self.assertEqual(captured.status, "succeeded")
        self.assertEqual(captured.amount_received, 2500)
        partial = stripe.Refund.create(payment_intent=pi.id, amount=1000)
        self.assertEqual(partial.status, "succeeded")
        self.assertEqual(partial.amount, 1000)
        rest = stripe.Refund.create(payment_intent=pi.id)
        self.assertEqual(rest.amount, 1500)
        charge = stripe.Charge.retrieve(captured.latest_charge)
        self.assertTrue(charge.refunded)
        # As on Stripe: the 500 left uncaptured counts as refunded, beside the 2500 refunded.
        self.assertEqual(charge.amount_refunded, 3000)
        self.assertEqual(charge.amount_captured, 2500)

    def test_confirm_later_with_off_session_boolean(self):
        c = self.customer()
        pi = stripe.PaymentIntent.create(amount=1200, currency="usd", customer=c.id, payment_method="pm_card_visa")
        self.assertEqual(pi.status, "requires_confirmation")
        confirmed = stripe.PaymentIntent.confirm(pi.id, off_session=True)
        self.assertEqual(confirmed.status, "succeeded")

    def test_decline_raises_card_error(self):
        with self.assertRaises(stripe.error.CardError) as ctx:
            stripe.PaymentIntent.create(amount=500, currency="usd", payment_method="pm_card_chargeDeclined", confirm=True)
        self.assertEqual(ctx.exception.code, "card_declined")

    def test_lists_auto_paginate(self):
        tag = unique("page")
        created = [self.customer(metadata={"tag": tag}).id for _ in range(5)]
        seen = [c.id for c in stripe.Customer.list(limit=2).auto_paging_iter() if c.metadata.get("tag") == tag]
        self.assertEqual(sorted(seen), sorted(created))
        self.assertEqual(len(seen), 5)

    def test_customer_search_pages_and_refuses_a_bad_query(self):
        tag = unique("search")
        created = [self.customer(name="Searched %d" % i, metadata={"tag": tag}).id for i in range(3)]
        query = "metadata['tag']:'%s' AND name~\"searched\"" % tag
        first = stripe.Customer.search(query=query, limit=2)
        self.assertEqual(first.object, "search_result")
        self.assertEqual([c.id for c in first.data], [created[2], created[1]])
        self.assertTrue(first.has_more)
        seen = [c.id for c in stripe.Customer.search_auto_paging_iter(query=query, limit=2)]
        self.assertEqual(seen, list(reversed(created)))
        with self.assertRaises(stripe.error.InvalidRequestError) as ctx:
            stripe.Customer.search(query="email:unquoted")
        self.assertEqual(ctx.exception.param, "query")

    def test_idempotent_retry_answers_the_same_object(self):
        key = unique("py-key")
        first = stripe.PaymentIntent.create(
            amount=700, currency="usd", payment_method="pm_card_visa", confirm=True, idempotency_key=key)
        again = stripe.PaymentIntent.create(
            amount=700, currency="usd", payment_method="pm_card_visa", confirm=True, idempotency_key=key)
        self.assertEqual(again.id, first.id)
        self.assertEqual(again.status, "succeeded")
        charges = stripe.Charge.list(payment_intent=first.id)
        self.assertEqual(len(charges.data), 1)

    def test_same_key_other_parameters_is_an_idempotency_error(self):
        key = unique("py-key")
        stripe.Customer.create(email="a@example.com", idempotency_key=key)
        with self.assertRaises(stripe.error.IdempotencyError):
            stripe.Customer.create(email="b@example.com", idempotency_key=key)

    def test_webhook_signature_verifies_with_construct_event(self):
        receiver = Receiver()
        try:
            endpoint = stripe.WebhookEndpoint.create(url=receiver.url, enabled_events=["payment_intent.succeeded"])
            self.assertTrue(endpoint.secret.startswith("whsec_"))
            pi = stripe.PaymentIntent.create(amount=900, currency="usd", payment_method="pm_card_visa", confirm=True)
            deadline = time.monotonic() + 60
            event = None
            while event is None:
                body, signature = receiver.deliveries.get(timeout=max(0.1, deadline - time.monotonic()))
                candidate = stripe.Webhook.construct_event(body, signature, endpoint.secret)
                if candidate.data.object.id == pi.id:
                    event = candidate
            self.assertEqual(event.type, "payment_intent.succeeded")
            self.assertEqual(event.data.object.amount, 900)
            with self.assertRaises(stripe.error.SignatureVerificationError):
                stripe.Webhook.construct_event(body, signature, "whsec_not_the_secret")
            stripe.WebhookEndpoint.delete(endpoint.id)
        finally:
            receiver.close()

    def test_payment_method_from_card_number_attach_list_pay_detach(self):
        c = self.customer()
        pm = stripe.PaymentMethod.create(
            type="card", card={"number": "4000056655665556", "exp_month": 12, "exp_year": 2040, "cvc": "123"},
            billing_details={"name": "Py Thon"})
        self.assertEqual((pm.card.brand, pm.card.funding, pm.card.last4), ("visa", "debit", "5556"))
        self.assertEqual(stripe.PaymentMethod.retrieve(pm.id).card.fingerprint, pm.card.fingerprint)
        attached = stripe.PaymentMethod.attach(pm.id, customer=c.id)
        self.assertEqual(attached.customer, c.id)
        listed = stripe.Customer.list_payment_methods(c.id, type="card")
        self.assertEqual([m.id for m in listed.auto_paging_iter()], [pm.id])
        pi = stripe.PaymentIntent.create(amount=1500, currency="usd", customer=c.id, payment_method=pm.id,
                                         off_session=True, confirm=True)
        self.assertEqual(pi.status, "succeeded")
        self.assertIsNone(stripe.PaymentMethod.detach(pm.id).customer)

    def test_setup_intent_then_off_session_payment(self):
        c = self.customer()
        si = stripe.SetupIntent.create(customer=c.id, payment_method="pm_card_visa", confirm=True, usage="off_session")
        self.assertEqual(si.status, "succeeded")
        self.assertEqual(stripe.PaymentMethod.retrieve(si.payment_method).customer, c.id)
        self.assertEqual([s.id for s in stripe.SetupIntent.list(customer=c.id).auto_paging_iter()], [si.id])
        pi = stripe.PaymentIntent.create(amount=1200, currency="usd", customer=c.id, payment_method=si.payment_method,
                                         off_session=True, confirm=True)
        self.assertEqual(pi.status, "succeeded")
        with self.assertRaises(stripe.error.InvalidRequestError) as raised:
            stripe.SetupIntent.confirm(si.id)
        self.assertEqual(raised.exception.code, "setup_intent_unexpected_state")

    def test_bad_card_number_raises_card_error_naming_the_field(self):
        with self.assertRaises(stripe.error.CardError) as raised:
            stripe.PaymentMethod.create(type="card", card={"number": "4242424242424241", "exp_month": 12, "exp_year": 2040})
        self.assertEqual(raised.exception.code, "incorrect_number")
        self.assertEqual(raised.exception.param, "card[number]")

    def test_legacy_charge_from_tok_visa_then_refund(self):
        charge = stripe.Charge.create(amount=1200, currency="usd", source="tok_visa", description="legacy")
        self.assertEqual(charge.status, "succeeded")
        self.assertTrue(charge.captured)
        self.assertEqual(charge.source.brand, "Visa")
        self.assertIsNone(charge.payment_intent)
        refund = stripe.Refund.create(charge=charge.id, amount=200)
        self.assertEqual(refund.status, "succeeded")
        self.assertEqual(stripe.Charge.retrieve(charge.id).amount_refunded, 200)
        with self.assertRaises(stripe.error.CardError) as caught:
            stripe.Charge.create(amount=1200, currency="usd", source="tok_chargeDeclined")
        self.assertEqual(caught.exception.code, "card_declined")

    def test_invoice_create_finalize_pay(self):
        c = self.customer(invoice_settings={"default_payment_method": "pm_card_visa"})
        invoice = stripe.Invoice.create(customer=c.id, auto_advance=False)
        self.assertEqual(invoice.status, "draft")
        stripe.InvoiceItem.create(customer=c.id, invoice=invoice.id, amount=1500, currency="usd", description="Setup")
        finalized = stripe.Invoice.finalize_invoice(invoice.id)
        self.assertEqual(finalized.status, "open")
        self.assertEqual(finalized.amount_due, 1500)
        paid = stripe.Invoice.pay(invoice.id)
        self.assertEqual(paid.status, "paid")
        self.assertEqual(paid.amount_paid, 1500)
        lines = [line for line in stripe.Invoice.retrieve(invoice.id).lines.auto_paging_iter()]
        self.assertEqual([line.amount for line in lines], [1500])

    def test_subscription_on_a_product_price(self):
        c = self.customer(invoice_settings={"default_payment_method": "pm_card_visa"})
        product = stripe.Product.create(name=unique("Plan"))
        price = stripe.Price.create(product=product.id, unit_amount=1000, currency="usd", recurring={"interval": "month"})
        sub = stripe.Subscription.create(customer=c.id, items=[{"price": price.id}])
        self.assertEqual(sub.status, "active")
        self.assertEqual(sub["items"].data[0].price.id, price.id)
        invoice = stripe.Invoice.retrieve(sub.latest_invoice)
        self.assertEqual(invoice.status, "paid")
        self.assertEqual(invoice.amount_paid, 1000)
        canceled = stripe.Subscription.delete(sub.id)
        self.assertEqual(canceled.status, "canceled")


if __name__ == "__main__":
    unittest.main()
