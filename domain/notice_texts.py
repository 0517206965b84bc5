"""The texts of every notice, in Indonesian (``id``, the default) and English (``en``).

Adding a notice is one entry in ``TEMPLATES``: its id (``<kind>.<what happened>``) and both texts,
with ``{param}`` placeholders for what the reaction gives (``domain/reactions.py``). A parameter
whose name ``domain/notices.py`` lists in ``PARAM_KINDS`` is written for the locale (times,
durations, rupiah) or looked up in ``TERMS`` (roles, actions, reasons, statuses, solutions,
topics); any other is written as given. A new action, reason, status or solution needs its words
in ``TERMS``. The tests render every template in both locales and walk every reaction.

The Indonesian texts use the marketplace's own words (Pusat Resolusi, Terima Solusi, Ajukan
Banding, Bantuan, resi, komplain, dana, penjual, pembeli) and speak to the party as *kamu*."""

from __future__ import annotations

from domain.types import Locale

ID, EN = Locale.ID, Locale.EN

#: Every notice a party may receive, by template id.
TEMPLATES: dict[str, dict[Locale, str]] = {
    # -- disputes (Pusat Resolusi) ------------------------------------------------------------
    "dispute.opened": {
        ID: "Pembeli {buyer_id} mengajukan komplain untuk pesanan {order_id} ({reason}) dan meminta"
        " {solution}. Cek Pusat Resolusi: kamu bisa Terima Solusi, tawarkan solusi lain, atau Ajukan"
        " Banding. No. komplain: {dispute_id}.",
        EN: "Buyer {buyer_id} opened dispute {dispute_id} on order {order_id} ({reason}), asking for"
        " {solution}. In the Resolution Center you may accept the solution, offer another one, or"
        " appeal.",
    },
    "dispute.party_acted": {
        ID: "{actor} {action} di komplain {dispute_id}. Status komplain sekarang: {status}.",
        EN: "The {actor} {action} on dispute {dispute_id}; it is now {status}.",
    },
    "dispute.escalated": {
        ID: "Atas permintaan {by}, komplain {dispute_id} sekarang dimediasi oleh Tokopedia Care."
        " Tim Tokopedia Care akan membalas dalam {within}.",
        EN: "Dispute {dispute_id} is now mediated by care (requested by the {by}); care replies within"
        " {within}.",
    },
    "dispute.escalated.seller_response": {
        ID: "Penjual tidak menanggapi komplain {dispute_id} dalam {waited}, jadi komplain ini sekarang"
        " dimediasi oleh Tokopedia Care. Tim Tokopedia Care akan membalas dalam {within}.",
        EN: "Dispute {dispute_id} is now mediated by care: the seller did not respond within {waited};"
        " care replies within {within}.",
    },
    "dispute.escalated.shipment": {
        ID: "{shipper} tidak mengirim barang dalam {waited}, jadi komplain {dispute_id} sekarang dimediasi"
        " oleh Tokopedia Care. Tim Tokopedia Care akan membalas dalam {within}.",
        EN: "Dispute {dispute_id} is now mediated by care: the {shipper} did not ship within {waited};"
        " care replies within {within}.",
    },
    "dispute.escalated.receipt": {
        ID: "Pembeli melaporkan masalah pada barang yang dikirim, jadi komplain {dispute_id} sekarang"
        " dimediasi oleh Tokopedia Care. Tim Tokopedia Care akan membalas dalam {within}.",
        EN: "Dispute {dispute_id} is now mediated by care: the buyer raised a problem with the delivery;"
        " care replies within {within}.",
    },
    "dispute.escalated.system": {
        ID: "Komplain {dispute_id} sekarang dimediasi oleh Tokopedia Care ({detail}). Tim Tokopedia"
        " Care akan membalas dalam {within}.",
        EN: "Dispute {dispute_id} is now mediated by care: {detail}; care replies within {within}.",
    },
    "dispute.escalated.return_transit": {
        ID: "Barang retur untuk komplain {dispute_id} belum sampai di penjual dalam {waited} sejak"
        " dikirim, jadi komplain ini sekarang dimediasi oleh Tokopedia Care. Tim Tokopedia Care akan"
        " membalas dalam {within}.",
        EN: "Dispute {dispute_id} is now mediated by care: the returned item was not delivered within"
        " {waited} of its shipping; care replies within {within}.",
    },
    "dispute.care_replied": {
        ID: "Balasan Tokopedia Care untuk komplain {dispute_id}: {text}",
        EN: "Care replied on dispute {dispute_id}: {text}",
    },
    "dispute.decided": {
        ID: "Tokopedia Care memutuskan solusi untuk komplain {dispute_id}: {solution}. {note}",
        EN: "Care decided dispute {dispute_id}: {solution}. {note}",
    },
    "dispute.decided.appealable": {
        ID: "Tokopedia Care memutuskan solusi untuk komplain {dispute_id}: {solution}. {note} Kamu bisa"
        " Ajukan Banding atas keputusan ini satu kali sampai {appeal_until}. Setelah itu keputusan"
        " dijalankan, kecuali ada banding, atau lebih cepat jika kedua pihak sudah menerimanya.",
        EN: "Care decided dispute {dispute_id}: {solution}. {note} Either party may appeal this decision"
        " once until {appeal_until}; it is carried out then unless appealed, or as soon as both"
        " parties accept it.",
    },
    "dispute.decision_appealed": {
        ID: "{by} mengajukan banding atas keputusan Tokopedia Care untuk komplain {dispute_id}."
        " Supervisor Tokopedia Care akan menguatkan atau mengganti keputusan itu paling lambat"
        " {review_due_at}.",
        EN: "The {by} appealed care's decision on dispute {dispute_id}; a care supervisor confirms or"
        " replaces it by {review_due_at}.",
    },
    "dispute.decision_confirmed": {
        ID: "Supervisor Tokopedia Care menguatkan keputusan untuk komplain {dispute_id}: {solution}. {note}",
        EN: "A care supervisor confirmed the decision on dispute {dispute_id}: {solution}. {note}",
    },
    "dispute.decision_replaced": {
        ID: "Supervisor Tokopedia Care mengganti keputusan untuk komplain {dispute_id}: {solution}. {note}",
        EN: "A care supervisor replaced the decision on dispute {dispute_id}: {solution}. {note}",
    },
    "dispute.decision_final.accepted": {
        ID: "Kedua pihak sudah menerima keputusan Tokopedia Care untuk komplain {dispute_id}, jadi"
        " keputusan ini final dan segera dijalankan: {solution}.",
        EN: "Care's decision on dispute {dispute_id} is final (both parties accepted it): {solution}.",
    },
    "dispute.decision_final.unappealed": {
        ID: "Tidak ada banding dalam {waited}, jadi keputusan Tokopedia Care untuk komplain"
        " {dispute_id} sekarang final dan segera dijalankan: {solution}.",
        EN: "Care's decision on dispute {dispute_id} is final (no appeal within {waited}): {solution}.",
    },
    "dispute.decision_final": {
        ID: "Keputusan Tokopedia Care untuk komplain {dispute_id} sekarang final ({detail}): {solution}.",
        EN: "Care's decision on dispute {dispute_id} is final ({detail}): {solution}.",
    },
    "dispute.receipt_confirmed_by_system": {
        ID: "Pembeli tidak mengonfirmasi penerimaan barang atau melaporkan masalah dalam {waited}, jadi"
        " sistem mengonfirmasi penerimaan untuk komplain {dispute_id}. Dana diteruskan ke penjual"
        " sesuai kesepakatan.",
        EN: "Receipt on dispute {dispute_id} was confirmed by the system: the buyer neither confirmed"
        " receipt nor raised a problem within {waited}. The funds are released to the seller as agreed.",
    },
    "dispute.reminder.help_available": {
        ID: "Jangan lupa tanggapi komplain {dispute_id} sebelum {due_at}. Kalau tidak, {other} bisa"
        " meminta Bantuan Tokopedia Care untuk menengahi.",
        EN: "Please respond on dispute {dispute_id} by {due_at}, or the {other} may ask care to mediate.",
    },
    "dispute.reminder.receipt": {
        ID: "Mohon konfirmasi penerimaan barang untuk komplain {dispute_id}, atau laporkan masalahnya,"
        " sebelum {due_at}. Setelah itu penerimaan dianggap terkonfirmasi dan dana diteruskan ke"
        " penjual.",
        EN: "Please confirm receipt on dispute {dispute_id}, or raise a problem, by {due_at}; after that"
        " receipt is confirmed for you and the funds are released to the seller.",
    },
    "dispute.reminder.care_takes_over": {
        ID: "Mohon {todo} untuk komplain {dispute_id} sebelum {due_at}. Kalau tidak, Tokopedia Care"
        " akan mengambil alih.",
        EN: "Please {todo} on dispute {dispute_id} by {due_at}, or care takes over.",
    },
    "dispute.reminder": {
        ID: "Mohon {todo} untuk komplain {dispute_id} sebelum {due_at}.",
        EN: "Please {todo} on dispute {dispute_id} by {due_at}.",
    },
    "dispute.return_delivered": {
        ID: "Barang retur untuk komplain {dispute_id} (resi {resi}) sudah sampai di tempatmu. Cek"
        " barangnya, lalu konfirmasi atau tolak dengan alasan dan bukti sebelum {due_at}. Setelah itu"
        " retur dianggap diterima dan dana dikembalikan ke pembeli.",
        EN: "The returned item on dispute {dispute_id} (resi {resi}) was delivered to you. Please confirm"
        " it, or refuse it with a reason and evidence, by {due_at}; after that the return counts as"
        " confirmed and the refund is paid.",
    },
    "dispute.shipment_delivered": {
        ID: "Paket untuk komplain {dispute_id} (resi {resi}) sudah sampai. Konfirmasi penerimaan barang,"
        " atau laporkan masalahnya, sebelum {due_at}.",
        EN: "Your items on dispute {dispute_id} (resi {resi}) were delivered. Please confirm receipt, or"
        " raise a problem, by {due_at}.",
    },
    "dispute.return_confirmed": {
        ID: "Penjual sudah menerima barang retur untuk komplain {dispute_id}. Dana {amount} dikembalikan"
        " ke pembeli.",
        EN: "The seller confirmed the returned item on dispute {dispute_id}: {amount} is refunded to the"
        " buyer.",
    },
    "dispute.return_confirmed_by_system": {
        ID: "Penjual tidak memeriksa barang retur untuk komplain {dispute_id} dalam {waited}, jadi retur"
        " dianggap diterima. Dana {amount} dikembalikan ke pembeli.",
        EN: "The seller did not inspect the returned item on dispute {dispute_id} within {waited}, so the"
        " return counts as confirmed: {amount} is refunded to the buyer.",
    },
    "dispute.return_refused": {
        ID: "Penjual menolak barang retur untuk komplain {dispute_id}: {detail}. Tokopedia Care akan"
        " meninjau retur ini dan memberi keputusan.",
        EN: "The seller refused the returned item on dispute {dispute_id}: {detail}. Care reviews the"
        " return and decides.",
    },
    "dispute.return_lapsed": {
        ID: "Barang retur untuk komplain {dispute_id} tidak dikirim dalam {waited}, jadi komplain ditutup"
        " dan dana diteruskan ke penjual.",
        EN: "The item on dispute {dispute_id} was not shipped back within {waited}: the claim is closed and"
        " the funds are released to the seller.",
    },
    "dispute.reminder.return_shipment": {
        ID: "Mohon kirim balik barang untuk komplain {dispute_id} dan masukkan nomor resi sebelum"
        " {due_at}. Setelah itu komplain ditutup dan dana diteruskan ke penjual.",
        EN: "Please ship the item back on dispute {dispute_id} and send the tracking number (resi) by"
        " {due_at}; after that the claim lapses and the funds are released to the seller.",
    },
    "dispute.reminder.return_inspection": {
        ID: "Mohon konfirmasi barang retur untuk komplain {dispute_id}, atau tolak dengan alasan, sebelum"
        " {due_at}. Setelah itu retur dianggap diterima dan dana dikembalikan ke pembeli.",
        EN: "Please confirm the returned item on dispute {dispute_id}, or refuse it with a reason, by"
        " {due_at}; after that the return counts as confirmed and the refund is paid.",
    },
    "dispute.info_requested": {
        ID: "Tokopedia Care meminta informasi untuk komplain {dispute_id}: {text} Balas dengan pesan dan"
        " buktimu sebelum {due_at}. Setelah itu Tokopedia Care melanjutkan dengan informasi yang ada.",
        EN: "Care asks you for information on dispute {dispute_id}: {text} Please answer with a message"
        " and your evidence by {due_at}; after that care goes on without it.",
    },
    "dispute.info_requested.evidence": {
        ID: "Tokopedia Care meminta {evidence_type} untuk komplain {dispute_id}: {text} Balas dengan pesan"
        " dan buktimu sebelum {due_at}. Setelah itu Tokopedia Care melanjutkan dengan informasi yang ada.",
        EN: "Care asks you for {evidence_type} on dispute {dispute_id}: {text} Please answer with a"
        " message and your evidence by {due_at}; after that care goes on without it.",
    },
    "dispute.info_request_expired": {
        ID: "Waktu untuk menjawab permintaan informasi Tokopedia Care di komplain {dispute_id} sudah habis."
        " Tokopedia Care melanjutkan dengan informasi yang ada. Kamu tetap bisa mengirim pesan.",
        EN: "The time to answer care's request for information on dispute {dispute_id} has passed; care"
        " goes on with what it has. You may still send a message.",
    },
    # -- care's own notices (ownership): to agents, never to a party ----------------------------
    "care.assigned": {
        ID: "Kasus {case_id} sekarang ditugaskan kepadamu oleh {by_id}.",
        EN: "Case {case_id} is assigned to you by {by_id}.",
    },
    "care.assigned.group": {
        ID: "Kasus {case_id} sekarang ditugaskan kepadamu di grup {group} oleh {by_id}.",
        EN: "Case {case_id} is assigned to you in group {group} by {by_id}.",
    },
    "care.reassigned": {
        ID: "Kasus {case_id} dialihkan darimu ke {now_with} oleh {by_id}.",
        EN: "Case {case_id} was reassigned from you to {now_with} by {by_id}.",
    },
    "care.moved_to_group": {
        ID: "Kasus {case_id} dipindahkan ke grup {group} ({detail}) dan tidak lagi ditugaskan kepadamu.",
        EN: "Case {case_id} moved to the {group} group ({detail}); it is no longer assigned to you.",
    },
    "dispute.party_inactive": {
        ID: "{silent} belum menanggapi komplain {dispute_id} selama {waited}. Sekarang kamu bisa"
        " meminta Bantuan Tokopedia Care untuk menengahi (Minta Bantuan).",
        EN: "The {silent} has not responded on dispute {dispute_id} for {waited}: you may now ask care"
        " for help (Minta Bantuan).",
    },
    "dispute.resolved": {
        ID: "Komplain {dispute_id} sudah selesai: {refunded} dikembalikan ke pembeli dan {released}"
        " diteruskan ke penjual.",
        EN: "Dispute {dispute_id} is resolved: refunded {refunded} to the buyer, released {released} to"
        " the seller.",
    },
    # -- help-center reports (Pusat Bantuan) ----------------------------------------------------
    "ticket.opened": {
        ID: "Laporan {ticket_id} ({topic}) sudah kami terima. Tim Tokopedia Care akan membalas dalam"
        " {within} lewat Pesan Bantuan di Inbox.",
        EN: "We received your report {ticket_id} ({topic}); care replies within {within}.",
    },
    "ticket.care_replied": {
        ID: "{text}",
        EN: "{text}",
    },
    "ticket.solved": {
        ID: "Tokopedia Care menandai laporan {ticket_id} sebagai selesai. Laporan akan ditutup dalam"
        " {closes_in}, kecuali kamu membalas lagi.",
        EN: "Care marked your report {ticket_id} solved. It closes in {closes_in} unless you write again.",
    },
    "ticket.solved_by_system": {
        ID: "Laporan {ticket_id} kami tandai selesai karena belum ada balasan darimu dalam {waited}."
        " Laporan akan ditutup dalam {closes_in}, kecuali kamu membalas lagi.",
        EN: "We marked your report {ticket_id} solved as we did not hear back within {waited}. It closes"
        " in {closes_in} unless you write again.",
    },
    "ticket.reminder": {
        ID: "Tokopedia Care menunggu jawabanmu untuk laporan {ticket_id}. Mohon balas sebelum {due_at};"
        " kalau tidak, laporan akan ditandai selesai.",
        EN: "Care is waiting for your answer on report {ticket_id}: please reply by {due_at}, or it is"
        " marked solved.",
    },
    "ticket.closed": {
        ID: "Laporan {ticket_id} sudah ditutup.",
        EN: "Your report {ticket_id} is closed.",
    },
}

#: The words parameters are written with, by kind (``domain/notices.py``, ``PARAM_KINDS``) and value.
TERMS: dict[str, dict[str, dict[Locale, str]]] = {
    "role": {
        "buyer": {ID: "pembeli", EN: "buyer"},
        "seller": {ID: "penjual", EN: "seller"},
        "user": {ID: "pengguna", EN: "user"},
        "care": {ID: "Tokopedia Care", EN: "care"},
        "supervisor": {ID: "supervisor Tokopedia Care", EN: "care supervisor"},
        "operator": {ID: "operator", EN: "operator"},
    },
    # What a party did, told to the other party ("{actor} {action}").
    "did": {
        "message": {ID: "mengirim pesan", EN: "sent a message"},
        "offer": {ID: "menawarkan solusi lain", EN: "offered another solution"},
        "accept": {ID: "memilih Terima Solusi", EN: "accepted the solution"},
        "reject": {ID: "menolak solusi yang ditawarkan", EN: "rejected the offered solution"},
        "appeal": {ID: "memilih Ajukan Banding atas komplain", EN: "appealed the claim"},
        "help": {ID: "meminta Bantuan Tokopedia Care", EN: "asked care for help"},
        "cancel": {ID: "membatalkan komplain", EN: "cancelled the dispute"},
        "ship": {ID: "mengirim barang dan memasukkan nomor resi", EN: "shipped and sent the tracking number"},
        "confirm_receipt": {ID: "mengonfirmasi barang sudah diterima", EN: "confirmed receipt"},
        "confirm_return": {ID: "menerima barang retur", EN: "confirmed the returned item"},
        "refuse_return": {ID: "menolak barang retur", EN: "refused the returned item"},
        "appeal_decision": {
            ID: "mengajukan banding atas keputusan Tokopedia Care",
            EN: "appealed care's decision",
        },
        "reply": {ID: "membalas", EN: "replied"},
        "decide": {ID: "memutuskan solusi", EN: "decided the solution"},
        "confirm_decision": {ID: "menguatkan keputusan", EN: "confirmed the decision"},
        "replace_decision": {ID: "mengganti keputusan", EN: "replaced the decision"},
        "redecide": {ID: "memutuskan ulang solusi", EN: "decided the solution again"},
        "retry_effect": {ID: "mencoba ulang langkah yang tertunda", EN: "retried a parked step"},
        "resolve_effect": {
            ID: "mencatat langkah yang tertunda sebagai selesai",
            EN: "recorded a parked step as done",
        },
        "solve": {ID: "menandai laporan selesai", EN: "marked the report solved"},
        "request_info": {ID: "meminta informasi", EN: "asked for information"},
        "hold": {ID: "menunda laporan", EN: "put the report on hold"},
        "resume": {ID: "melanjutkan laporan", EN: "took the report off hold"},
        "assign": {ID: "menugaskan kasus ini", EN: "assigned the case"},
        "claim": {ID: "mengambil kasus ini", EN: "took the case"},
        "release": {ID: "melepas kasus ini", EN: "released the case"},
    },
    # What a party is asked to do by a deadline ("Mohon {todo}").
    "todo": {
        "respond": {
            ID: "beri tanggapan (Terima Solusi, tawarkan solusi lain, atau Ajukan Banding)",
            EN: "respond (accept, offer another solution or appeal)",
        },
        "ship": {ID: "kirim barang dan masukkan nomor resi", EN: "ship and send the tracking number"},
        "confirm_receipt": {
            ID: "konfirmasi penerimaan jika barang sudah sampai",
            EN: "confirm receipt if the items arrived",
        },
        "appeal_decision": {
            ID: "terima keputusan Tokopedia Care atau ajukan banding",
            EN: "accept care's decision or appeal it",
        },
        "message": {ID: "balas pesan Tokopedia Care", EN: "answer care"},
        "confirm_return": {
            ID: "periksa barang retur lalu terima atau tolak",
            EN: "inspect the returned item and confirm or refuse it",
        },
    },
    "reason": {
        "NOT_RECEIVED": {ID: "barang belum diterima", EN: "item not received"},
        "DAMAGED": {ID: "barang rusak", EN: "item damaged"},
        "NOT_AS_DESCRIBED": {ID: "barang tidak sesuai deskripsi", EN: "item not as described"},
        "INCOMPLETE": {ID: "barang yang diterima tidak lengkap", EN: "items incomplete"},
        "OTHER": {ID: "alasan lain", EN: "another reason"},
    },
    "status": {
        "AWAITING_SELLER": {ID: "menunggu tanggapan penjual", EN: "awaiting the seller"},
        "AWAITING_BUYER": {ID: "menunggu tanggapan pembeli", EN: "awaiting the buyer"},
        "IN_MEDIATION": {ID: "dimediasi Tokopedia Care", EN: "in mediation by care"},
        "DECIDED": {ID: "sudah diputuskan Tokopedia Care", EN: "decided by care"},
        "DECISION_APPEALED": {ID: "keputusan sedang ditinjau ulang", EN: "under review after an appeal"},
        "AWAITING_FULFILMENT": {ID: "menunggu solusi dijalankan", EN: "awaiting fulfilment"},
        "RESOLVED": {ID: "selesai", EN: "resolved"},
        "CANCELLED": {ID: "dibatalkan", EN: "cancelled"},
    },
    # ``{amount}`` in a solution's words is the refund, in rupiah.
    "solution": {
        "REFUND_TO_BUYER": {
            ID: "pengembalian dana {amount} ke pembeli",
            EN: "a refund of {amount} to the buyer",
        },
        "RELEASE_TO_SELLER": {ID: "dana diteruskan ke penjual", EN: "release of the funds to the seller"},
        "EXCHANGE": {ID: "tukar produk", EN: "an exchange of the product"},
        "SEND_REMAINING": {ID: "pengiriman sisa barang", EN: "the remaining items sent"},
        # Issue 20's return and refund (Kembalikan barang dan dana), for when that solution lands.
        "RETURN_AND_REFUND": {
            ID: "pengembalian barang dan dana {amount}",
            EN: "a return of the item and a refund of {amount}",
        },
    },
    "evidence": {
        "PROOF_OF_DELIVERY": {ID: "bukti barang sampai", EN: "proof of delivery"},
        "PROOF_OF_SHIPMENT": {ID: "bukti pengiriman (resi)", EN: "proof of shipment"},
        "PHOTO_OF_ITEM": {ID: "foto barang", EN: "a photo of the item"},
        "VIDEO_UNBOXING": {ID: "video unboxing", EN: "an unboxing video"},
        "RECEIPT": {ID: "bukti pembayaran", EN: "a receipt"},
        "CONVERSATION": {ID: "tangkapan layar percakapan", EN: "the conversation"},
        "OTHER": {ID: "bukti lain", EN: "other evidence"},
    },
    "topic": {
        "ACCOUNT": {ID: "Akun", EN: "Account"},
        "ORDERS": {ID: "Pesanan", EN: "Orders"},
        "PAYMENT": {ID: "Pembayaran", EN: "Payment"},
        "SHIPPING": {ID: "Pengiriman", EN: "Shipping"},
        "REFUNDS": {ID: "Pengembalian dana", EN: "Refunds"},
        "BALANCE_WITHDRAWAL": {ID: "Saldo dan Tarik dana", EN: "Balance and withdrawal"},
        "SALES": {ID: "Penjualan", EN: "Sales"},
        "PROMOTIONS": {ID: "Promosi", EN: "Promotions"},
        "ACCOUNT_SECURITY": {ID: "Pelaporan masalah keamanan akun", EN: "Account security report"},
    },
}
