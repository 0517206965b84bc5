"""The starter Help Center (Pusat Bantuan) written for this service: each article in Indonesian
and in English, across the nine topics, with the Resolution Center's rules as docs/rules.md has
them. Migration 0003 loads it once into an empty database."""

from __future__ import annotations

from dataclasses import dataclass

from domain.help import ArticleStatus, Audience, HelpTopic, Locale, slugify
from store.help import ArticleFields, starter_id


@dataclass(frozen=True)
class Starter:
    """One article of the starter set, in both languages."""

    key: str
    topic: HelpTopic
    audience: Audience
    id_title: str
    id_body: str
    en_title: str
    en_body: str


T, A = HelpTopic, Audience

STARTERS = [
    # -- the Resolution Center (Pusat Resolusi) ---------------------------------------------------
    Starter(
        "open-complaint",
        T.ORDERS,
        A.BUYER,
        "Cara mengajukan komplain pesanan di Pusat Resolusi",
        """Jika pesanan yang kamu terima tidak sesuai, rusak, atau kurang, ajukan **komplain** dari
halaman detail pesanan lalu pilih *Komplain*.

- Hanya **pembeli** yang dapat mengajukan komplain, dan hanya untuk pesanannya sendiri.
- Satu pesanan hanya bisa memiliki satu komplain yang masih berjalan.
- Tulis kendala, pilih solusi yang kamu inginkan (pengembalian dana penuh atau sebagian, tukar barang,
  atau kirim sisa barang) dan lampirkan bukti seperti foto atau video.

Setelah komplain diajukan, penjual akan menanggapi di Pusat Resolusi.""",
        "How to open a complaint about an order in the Resolution Center",
        """If the order you received is wrong, damaged or incomplete, open a **complaint** from the
order's detail page and choose *Complain*.

- Only the **buyer** can open a complaint, and only about their own order.
- One order can have only one open complaint at a time.
- Describe the problem, choose the solution you want (a full or partial refund, an exchange, or
  sending the remaining items) and attach evidence such as photos or video.

The seller then answers in the Resolution Center.""",
    ),
    Starter(
        "seller-responds",
        T.SALES,
        A.SELLER,
        "Menanggapi komplain pembeli di Pesanan Dikomplain",
        """Komplain terhadap tokomu muncul di **Pesanan Dikomplain**. Untuk setiap komplain kamu bisa:

1. **Terima Solusi**: menyetujui solusi yang diminta pembeli, misalnya pengembalian dana.
2. **Tawarkan solusi lain**: mengusulkan solusi berbeda, misalnya pengembalian dana sebagian atau
   tukar barang.
3. **Ajukan Banding**: menyanggah komplain dengan alasan dan bukti.

Balas secepatnya dan sertakan foto atau bukti pengiriman agar komplain cepat selesai.""",
        "Answering a buyer's complaint in Complained Orders",
        """Complaints against your shop appear in **Complained Orders** (Pesanan Dikomplain). For each
complaint you can:

1. **Accept the solution** (Terima Solusi): agree to what the buyer asked for, such as a refund.
2. **Offer another solution**: propose something else, such as a partial refund or an exchange.
3. **Appeal** (Ajukan Banding): contest the complaint with a reason and evidence.

Answer quickly and attach photos or shipping proof so the complaint is settled sooner.""",
    ),
    Starter(
        "appeal",
        T.SALES,
        A.SELLER,
        "Ajukan Banding: menyanggah komplain pembeli",
        """Jika menurutmu komplain pembeli tidak benar, pilih **Ajukan Banding** di Pesanan Dikomplain.
Tuliskan alasan banding dan lampirkan bukti, misalnya foto barang sebelum dikirim, video pengemasan,
atau nomor resi.

Banding diteruskan ke Tokopedia Care yang akan meninjau bukti dari kedua pihak dan memberi
keputusan. Keputusan Tokopedia Care dapat dibanding satu kali dalam batas waktu yang tertera.""",
        "Appeal: contesting a buyer's complaint",
        """If you believe a buyer's complaint is not right, choose **Appeal** (Ajukan Banding) in
Complained Orders. Write the reason for your appeal and attach evidence, such as photos of the item
before shipping, a packing video or the tracking number.

The appeal goes to Tokopedia Care, who review the evidence of both sides and decide. Care's
decision can be appealed once within the time shown.""",
    ),
    Starter(
        "accept-solution",
        T.REFUNDS,
        A.BUYER,
        "Terima Solusi atau tolak tawaran solusi dari penjual",
        """Saat penjual menawarkan solusi lain, kamu bisa memilih **Terima Solusi** untuk menyetujuinya.
Jika tidak setuju, tolak tawaran itu, ubah permintaanmu, atau minta **Bantuan** Tokopedia Care.

Kamu juga dapat membatalkan komplain selama belum ada kesepakatan atau mediasi. Setelah solusi
disepakati, solusi dijalankan: dana dikembalikan, dana diteruskan ke penjual, atau barang ditukar.""",
        "Accept a solution or reject the seller's offer",
        """When the seller offers another solution you can choose **Accept solution** (Terima Solusi)
to agree. If you do not agree, reject the offer, change your request, or ask Tokopedia Care for
**Help** (Bantuan).

You can also cancel the complaint as long as there is no agreement or mediation yet. Once a
solution is agreed it is carried out: the money is refunded, released to the seller, or the item
is exchanged.""",
    ),
    Starter(
        "request-help",
        T.ORDERS,
        A.ALL,
        "Minta Bantuan Tokopedia Care untuk menengahi komplain",
        """Jika pembeli dan penjual tidak menemukan kesepakatan, salah satu pihak dapat menekan
**Bantuan** (Minta Bantuan). Tokopedia Care akan menjadi penengah (mediasi): meninjau percakapan dan
bukti, dapat menghubungi kedua pihak, lalu memutuskan solusi yang dijalankan.

Tokopedia Care membalas paling lambat **1×24 jam** sejak bantuan diminta.""",
        "Ask Tokopedia Care for help to mediate a complaint",
        """If buyer and seller cannot agree, either side can press **Help** (Bantuan). Tokopedia Care
then mediates: it reviews the conversation and the evidence, may contact both sides, and decides
the solution that is carried out.

Tokopedia Care replies within **1×24 hours** of the request for help.""",
    ),
    Starter(
        "three-day-rule",
        T.SALES,
        A.SELLER,
        "Aturan tiga hari: pembeli tidak merespons komplain",
        """Jika giliran pembeli menanggapi tetapi pembeli tidak merespons lebih dari **3 hari**, penjual
tetap bisa meminta **Bantuan** Tokopedia Care, dan penjual diberi tahu saat hal itu terjadi.

Hitungan tiga hari dimulai ulang setiap kali pembeli mengirim pesan atau melakukan tindakan di
komplain. Pesan pembeli yang masuk tepat saat batas waktu habis tetap dihitung sebagai respons.""",
        "The three-day rule: the buyer does not respond",
        """If it is the buyer's turn to respond and the buyer stays silent for more than **3 days**,
the seller may still ask Tokopedia Care for **Help**, and the seller is told so.

The three days start again every time the buyer sends a message or acts on the complaint. A buyer
message that arrives just as the time runs out still counts as a response.""",
    ),
    Starter(
        "care-reply-time",
        T.OTHER,
        A.ALL,
        "Tokopedia Care membalas dalam 1×24 jam",
        """Setiap laporan ke Tokopedia Care dan setiap permintaan Bantuan di komplain dibalas paling
lambat **1×24 jam**. Balasan dikirim ke **Pesan Bantuan** (Inbox) di akunmu.

Jika kamu mengirim pesan lagi selama mediasi, Tokopedia Care kembali membalas dalam 1×24 jam. Bila
target ini terlewat, laporanmu dinaikkan ke supervisor dan tidak akan hilang.""",
        "Tokopedia Care replies within 1×24 hours",
        """Every report to Tokopedia Care and every request for help on a complaint gets a reply within
**1×24 hours**. Replies arrive in **Help Messages** (Pesan Bantuan, the inbox) of your account.

If you write again during mediation, care replies within 24 hours again. If the target is missed,
your report is escalated to a supervisor and is never lost.""",
    ),
    Starter(
        "contact-care",
        T.OTHER,
        A.ALL,
        "Hubungi Tim Tokopedia Care: membuat laporan di Pusat Bantuan",
        """Jika artikel Pusat Bantuan belum menyelesaikan masalahmu, tekan **Hubungi Tim Tokopedia
Care** lalu buat laporan:

- pilih topik (akun, pesanan, pembayaran, pengiriman, pengembalian dana, saldo & penarikan,
  penjualan, promosi, atau laporan keamanan akun),
- tulis detail masalah dan nomor pesanan bila ada,
- lampirkan bukti foto.

Balasan dikirim ke Pesan Bantuan dalam 1×24 jam.""",
        "Contact the Tokopedia Care team: filing a report in the Help Center",
        """If no Help Center article solves your problem, tap **Contact Tokopedia Care** and file a
report:

- choose a topic (account, orders, payment, shipping, refunds, balance & withdrawal, sales,
  promotions, or an account-security report),
- describe the problem and give the order number if there is one,
- attach photo evidence.

The reply arrives in your Help Messages within 1×24 hours.""",
    ),
    Starter(
        "inbox",
        T.OTHER,
        A.ALL,
        "Membaca dan membalas Pesan Bantuan dari Tokopedia Care",
        """Balasan Tokopedia Care atas laporanmu masuk ke **Pesan Bantuan** (Inbox). Pesan yang belum
dibaca ditandai. Kamu dapat membalas pesan tersebut untuk menambahkan informasi; laporan yang sudah
diselesaikan akan dibuka kembali jika kamu membalasnya sebelum laporan ditutup.""",
        "Reading and answering Help Messages from Tokopedia Care",
        """Tokopedia Care's replies to your reports arrive in **Help Messages** (Pesan Bantuan, the
inbox). Unread messages are marked. You can answer a message to add information; a solved report
opens again if you answer before it closes.""",
    ),
    # -- refunds -------------------------------------------------------------------------------
    Starter(
        "refund-after-complaint",
        T.REFUNDS,
        A.BUYER,
        "Pengembalian dana setelah komplain disetujui",
        """Jika penjual menyetujui komplain atau Tokopedia Care memutuskan pengembalian dana, **dana
dikembalikan** ke pembeli sesuai solusi: penuh atau sebagian. Jumlah refund tidak pernah melebihi
total pesanan.

Dana masuk ke Saldo Refund di akunmu dan dapat dipakai belanja atau ditarik ke rekening bank.""",
        "Refunds after a complaint is accepted",
        """When the seller accepts the complaint or Tokopedia Care decides on a refund, the **money is
refunded** to the buyer as agreed: in full or in part. A refund never exceeds the order total.

The money goes to the Refund Balance of your account, where you can spend it or withdraw it to a
bank account.""",
    ),
    Starter(
        "refund-duration",
        T.REFUNDS,
        A.BUYER,
        "Berapa lama proses refund?",
        """Refund ke Saldo Refund diproses segera setelah solusi disepakati atau diputuskan. Untuk
pesanan yang dibatalkan sebelum dikirim, dana dikembalikan otomatis. Jika dana belum masuk setelah
1×24 jam, hubungi Tokopedia Care dengan nomor pesanan.""",
        "How long does a refund take?",
        """A refund to your Refund Balance is processed as soon as the solution is agreed or decided.
For orders cancelled before shipping the money comes back automatically. If it has not arrived after
24 hours, contact Tokopedia Care with the order number.""",
    ),
    Starter(
        "exchange",
        T.REFUNDS,
        A.ALL,
        "Tukar barang atau kirim sisa barang",
        """Selain pengembalian dana, solusi komplain dapat berupa **tukar barang** atau **kirim sisa
barang** yang kurang. Pihak yang mengirim barang wajib memasukkan **nomor resi**. Pembeli
mengonfirmasi penerimaan; jika pembeli tidak mengonfirmasi dalam batas waktu, penerimaan dianggap
selesai dan dana diteruskan ke penjual.""",
        "Exchanging an item or sending the remaining items",
        """Besides a refund, a complaint can be solved by an **exchange** or by **sending the remaining
items**. Whoever ships must enter the **tracking number** (resi). The buyer confirms receipt; if the
buyer does not confirm in time, receipt is taken as confirmed and the funds are released to the
seller.""",
    ),
    Starter(
        "return-item",
        T.REFUNDS,
        A.BUYER,
        "Mengembalikan barang ke penjual",
        """Jika solusi komplain mengharuskan barang dikembalikan, kemas barang dengan aman lalu kirim ke
alamat penjual. Masukkan nomor resi pengiriman di halaman komplain agar penjual dapat melacak
paketnya. Pengembalian dana diproses setelah penjual menerima dan memeriksa barang.""",
        "Returning an item to the seller",
        """If the complaint's solution needs the item returned, pack it safely and ship it to the
seller's address. Enter the tracking number on the complaint page so the seller can track the
parcel. The refund is processed after the seller receives and inspects the item.""",
    ),
    # -- orders --------------------------------------------------------------------------------
    Starter(
        "cancel-order",
        T.ORDERS,
        A.BUYER,
        "Membatalkan pesanan",
        """Pesanan dapat dibatalkan selama penjual belum memproses atau mengirimnya. Buka detail
pesanan lalu pilih **Batalkan Pesanan** dan tulis alasan pembatalan. Dana dari pesanan yang
dibatalkan dikembalikan ke Saldo Refund.""",
        "Cancelling an order",
        """An order can be cancelled as long as the seller has not processed or shipped it. Open the
order's details, choose **Cancel order** and give a reason. The money of a cancelled order returns to
your Refund Balance.""",
    ),
    Starter(
        "order-status",
        T.ORDERS,
        A.BUYER,
        "Melihat status pesanan",
        """Status pesanan ada di menu **Daftar Transaksi**: menunggu pembayaran, diproses penjual,
dikirim, tiba di tujuan, dan selesai. Jika pesanan sudah tiba, tekan **Selesai** agar dana
diteruskan ke penjual; ajukan komplain sebelum itu jika ada masalah.""",
        "Checking an order's status",
        """An order's status is in **Transaction List**: awaiting payment, processed by the seller,
shipped, arrived, and completed. When the order has arrived, press **Complete** so the funds go to
the seller; open a complaint before that if something is wrong.""",
    ),
    Starter(
        "seller-funds",
        T.SALES,
        A.SELLER,
        "Kapan dana penjualan diteruskan ke penjual",
        """Dana penjualan diteruskan ke saldo penjual setelah pembeli menekan Selesai, setelah batas
waktu konfirmasi penerimaan lewat, atau setelah komplain berakhir dengan solusi **dana diteruskan ke
penjual**. Selama komplain berjalan, dana pesanan ditahan.""",
        "When the money of a sale is released to the seller",
        """The money of a sale is released to the seller's balance when the buyer presses Complete,
when the time to confirm receipt has passed, or when a complaint ends with the funds **released to
the seller**. While a complaint is open, the order's money is held.""",
    ),
    Starter(
        "process-orders",
        T.SALES,
        A.SELLER,
        "Memproses pesanan baru dan mengirim barang",
        """Terima pesanan baru di menu **Pesanan Baru**, kemas barang, lalu atur pengiriman dan
masukkan nomor resi. Kirim barang sebelum batas waktu pengiriman; pesanan yang tidak dikirim tepat
waktu dapat dibatalkan otomatis dan dana dikembalikan ke pembeli.""",
        "Processing new orders and shipping them",
        """Accept new orders in **New Orders**, pack the item, then arrange the shipment and enter the
tracking number. Ship before the shipping deadline; orders not shipped in time may be cancelled
automatically and the money returned to the buyer.""",
    ),
    # -- shipping ------------------------------------------------------------------------------
    Starter(
        "late-delivery",
        T.SHIPPING,
        A.BUYER,
        "Pengiriman terlambat atau paket belum diterima",
        """Jika paket belum sampai melewati estimasi, lacak pengiriman dengan nomor resi di detail
pesanan. Hubungi penjual melalui chat terlebih dahulu. Jika paket tidak dikirim atau hilang, ajukan
komplain sebelum pesanan selesai agar dana tidak diteruskan ke penjual.""",
        "Late delivery or a parcel that never arrived",
        """If the parcel is past its estimated arrival, track the shipment with the tracking number on
the order's details. Chat with the seller first. If the parcel was never shipped or is lost, open a
complaint before the order completes so the money is not released to the seller.""",
    ),
    Starter(
        "tracking-number",
        T.SHIPPING,
        A.ALL,
        "Nomor resi tidak valid atau tidak bisa dilacak",
        """Nomor resi yang baru dimasukkan bisa memerlukan beberapa jam sebelum dapat dilacak oleh
kurir. Jika resi tetap tidak valid, penjual perlu memperbarui nomor resi yang benar. Pembeli dapat
mengajukan komplain bila resi palsu atau barang tidak pernah dikirim.""",
        "Tracking number invalid or cannot be tracked",
        """A newly entered tracking number can take a few hours before the courier can track it. If it
stays invalid, the seller must update it with the right number. Buyers can open a complaint if the
tracking number is fake or the item was never shipped.""",
    ),
    Starter(
        "damaged-item",
        T.SHIPPING,
        A.BUYER,
        "Barang diterima dalam keadaan rusak",
        """Jika barang rusak atau pecah saat tiba, jangan tekan Selesai. Ambil **foto** dan video kondisi
paket dan barang, lalu ajukan komplain dengan bukti tersebut. Pilih solusi pengembalian dana atau
tukar barang.""",
        "The item arrived damaged",
        """If the item arrives broken or damaged, do not press Complete. Take **photos** and a video of
the parcel and the item, then open a complaint with that evidence. Choose a refund or an exchange
as the solution.""",
    ),
    Starter(
        "shipping-cost",
        T.SHIPPING,
        A.ALL,
        "Ongkos kirim dan pilihan kurir",
        """Ongkos kirim (ongkir) dihitung dari berat barang, alamat asal, dan alamat tujuan sesuai kurir
yang dipilih. Penjual menentukan kurir yang didukung tokonya. Pastikan alamat pengiriman lengkap
agar paket tidak tertahan.""",
        "Shipping costs and courier choices",
        """The shipping cost is computed from the item's weight, the origin and the destination address
for the courier you choose. Sellers decide which couriers their shop supports. Make sure the
delivery address is complete so the parcel is not held up.""",
    ),
    # -- payment -------------------------------------------------------------------------------
    Starter(
        "payment-methods",
        T.PAYMENT,
        A.BUYER,
        "Metode pembayaran yang tersedia",
        """Kamu dapat membayar dengan transfer bank (virtual account), kartu kredit atau debit, dompet
digital, gerai retail, atau Saldo. Selesaikan pembayaran sebelum batas waktu; pesanan yang tidak
dibayar dibatalkan otomatis.""",
        "Available payment methods",
        """You can pay by bank transfer (virtual account), credit or debit card, e-wallet, retail
outlet, or your Balance. Finish paying before the deadline; unpaid orders are cancelled
automatically.""",
    ),
    Starter(
        "payment-not-verified",
        T.PAYMENT,
        A.BUYER,
        "Sudah dibayar tetapi status pembayaran belum berubah",
        """Pembayaran biasanya terverifikasi dalam beberapa menit. Jika kamu sudah membayar tetapi
status masih menunggu pembayaran setelah 1 jam, simpan bukti transfer lalu hubungi Tokopedia Care
dengan nomor tagihan. Jangan membayar dua kali untuk tagihan yang sama.""",
        "Paid, but the payment status has not changed",
        """Payments are usually verified within minutes. If you paid but the status still says awaiting
payment after an hour, keep the transfer receipt and contact Tokopedia Care with the invoice number.
Do not pay twice for the same invoice.""",
    ),
    Starter(
        "double-charge",
        T.PAYMENT,
        A.BUYER,
        "Tagihan terpotong dua kali",
        """Jika saldo rekening atau kartu terpotong dua kali untuk satu pembayaran, pembayaran ganda
akan dikembalikan otomatis. Bila dana belum kembali dalam 1×24 jam, buat laporan ke Tokopedia Care
dengan topik pembayaran dan lampirkan bukti mutasi rekening.""",
        "Charged twice for one payment",
        """If your account or card was charged twice for one payment, the duplicate charge is refunded
automatically. If the money has not come back within 24 hours, file a report to Tokopedia Care under
payment and attach your bank statement.""",
    ),
    # -- balance & withdrawal ------------------------------------------------------------------
    Starter(
        "withdraw-balance",
        T.BALANCE_WITHDRAWAL,
        A.ALL,
        "Cara menarik saldo ke rekening bank",
        """Saldo Refund dan Saldo Penghasilan dapat ditarik ke rekening bank yang terdaftar atas nama
pemilik akun. Buka **Saldo**, pilih **Tarik Saldo**, masukkan jumlah, lalu verifikasi dengan kode
OTP. Penarikan saldo diproses pada hari kerja.""",
        "How to withdraw your balance to a bank account",
        """Your Refund Balance and Income Balance can be withdrawn to a bank account registered in the
account owner's name. Open **Balance**, choose **Withdraw**, enter the amount and verify with the
OTP code. Withdrawals are processed on working days.""",
    ),
    Starter(
        "withdrawal-late",
        T.BALANCE_WITHDRAWAL,
        A.ALL,
        "Penarikan saldo belum masuk ke rekening",
        """Penarikan saldo biasanya masuk dalam 1×24 jam hari kerja. Jika dana belum masuk, periksa
nama dan nomor rekening tujuan. Penarikan ke rekening yang salah akan gagal dan saldo dikembalikan.
Hubungi Tokopedia Care jika penarikan tertunda lebih lama.""",
        "A withdrawal has not reached the bank account",
        """A withdrawal usually arrives within 24 hours on working days. If the money has not arrived,
check the name and number of the target bank account. A withdrawal to a wrong account fails and the
balance is returned. Contact Tokopedia Care if it is delayed longer.""",
    ),
    Starter(
        "balance-kinds",
        T.BALANCE_WITHDRAWAL,
        A.ALL,
        "Perbedaan Saldo Refund dan Saldo Penghasilan",
        """**Saldo Refund** berisi dana yang dikembalikan dari pesanan yang dibatalkan atau dikomplain.
**Saldo Penghasilan** berisi dana hasil penjualan yang diteruskan ke penjual. Keduanya dapat
dipakai berbelanja atau ditarik ke rekening bank.""",
        "Refund Balance and Income Balance",
        """The **Refund Balance** holds money returned from cancelled or complained orders. The
**Income Balance** holds money from sales released to the seller. Both can be spent or withdrawn to
a bank account.""",
    ),
    # -- account -------------------------------------------------------------------------------
    Starter(
        "change-phone-email",
        T.ACCOUNT,
        A.ALL,
        "Mengubah nomor HP atau email akun",
        """Buka **Pengaturan Akun** lalu pilih nomor HP atau email untuk mengubahnya. Kamu perlu
memverifikasi perubahan dengan kode OTP yang dikirim ke nomor atau email lama. Jika nomor lama
sudah tidak aktif, hubungi Tokopedia Care dengan foto identitas.""",
        "Changing the phone number or email of your account",
        """Open **Account Settings** and choose the phone number or email to change it. You must
verify the change with an OTP code sent to the old number or email. If the old number is no longer
active, contact Tokopedia Care with a photo of your ID.""",
    ),
    Starter(
        "cannot-login",
        T.ACCOUNT,
        A.ALL,
        "Tidak bisa masuk ke akun",
        """Jika tidak bisa masuk (login), pastikan nomor HP atau email benar lalu gunakan **Lupa kata
sandi** untuk membuat kata sandi baru. Jika kode verifikasi tidak diterima, tunggu beberapa menit
sebelum meminta kode lagi.""",
        "Cannot log in to your account",
        """If you cannot log in, check the phone number or email, then use **Forgot password** to set a
new password. If the verification code does not arrive, wait a few minutes before asking for
another code.""",
    ),
    Starter(
        "close-account",
        T.ACCOUNT,
        A.ALL,
        "Menutup atau menonaktifkan akun",
        """Akun dapat ditutup jika tidak ada transaksi, komplain, atau penarikan saldo yang masih
berjalan. Tarik seluruh saldo terlebih dahulu, lalu ajukan penutupan akun melalui Tokopedia Care.
Akun yang ditutup tidak dapat dipulihkan.""",
        "Closing or deactivating your account",
        """An account can be closed when no transaction, complaint or withdrawal is still open.
Withdraw your whole balance first, then ask Tokopedia Care to close the account. A closed account
cannot be restored.""",
    ),
    # -- account security ----------------------------------------------------------------------
    Starter(
        "hacked-account",
        T.ACCOUNT_SECURITY,
        A.ALL,
        "Akun diretas atau ada transaksi mencurigakan",
        """Jika ada transaksi yang tidak kamu lakukan atau akunmu diretas, segera ganti kata sandi dan
keluar dari semua perangkat. Lalu buat **laporan keamanan akun** ke Tokopedia Care: laporan ini
diprioritaskan. Jangan pernah membagikan kode OTP kepada siapa pun.""",
        "Hacked account or suspicious transactions",
        """If you see transactions you did not make or your account was hacked, change your password at
once and log out of all devices. Then file an **account-security report** to Tokopedia Care: these
reports go first. Never share an OTP code with anyone.""",
    ),
    Starter(
        "otp-fraud",
        T.ACCOUNT_SECURITY,
        A.ALL,
        "Waspada penipuan: jangan bagikan kode OTP",
        """Tokopedia tidak pernah meminta kode OTP, kata sandi, atau PIN melalui telepon, chat, atau
email. Penipuan sering mengaku sebagai petugas dan menjanjikan hadiah. Jika kamu tertipu dan
membagikan kode, segera ganti kata sandi dan laporkan ke Tokopedia Care.""",
        "Beware of fraud: never share your OTP code",
        """Tokopedia never asks for an OTP code, password or PIN by phone, chat or email. Scammers
often pretend to be staff and promise prizes. If you were tricked into sharing a code, change your
password at once and report it to Tokopedia Care.""",
    ),
    Starter(
        "two-step",
        T.ACCOUNT_SECURITY,
        A.ALL,
        "Mengamankan akun dengan verifikasi dua langkah dan PIN",
        """Aktifkan **verifikasi dua langkah** dan buat PIN di Pengaturan Keamanan. Dengan keduanya,
masuk dari perangkat baru dan penarikan saldo memerlukan kode tambahan, sehingga akunmu lebih aman
meski kata sandi diketahui orang lain.""",
        "Securing your account with two-step verification and a PIN",
        """Turn on **two-step verification** and set a PIN in Security Settings. With both, logging in
from a new device and withdrawing your balance need an extra code, so your account stays safe even
if someone learns your password.""",
    ),
    # -- promotions ----------------------------------------------------------------------------
    Starter(
        "voucher-invalid",
        T.PROMOTIONS,
        A.BUYER,
        "Kode voucher atau kupon promo tidak bisa digunakan",
        """Periksa syarat voucher: minimal belanja, kategori produk, metode pembayaran, dan masa
berlaku. Satu transaksi hanya dapat memakai voucher sesuai ketentuan. Jika pesanan dengan voucher
dibatalkan, kupon yang sudah terpakai tidak selalu dikembalikan.""",
        "A voucher or promo code does not work",
        """Check the voucher's terms: minimum spend, product category, payment method and validity
period. One transaction can only use vouchers as the terms allow. If an order that used a voucher
is cancelled, the used coupon is not always returned.""",
    ),
    Starter(
        "cashback",
        T.PROMOTIONS,
        A.BUYER,
        "Cashback belum masuk",
        """Cashback diberikan setelah pesanan selesai, bukan saat pembayaran. Jika pesanan dikomplain
dan dana dikembalikan, cashback dari pesanan itu dibatalkan. Cek riwayat cashback di halaman
promo; hubungi Tokopedia Care jika belum masuk 3 hari setelah pesanan selesai.""",
        "Cashback has not arrived",
        """Cashback is given after the order completes, not at payment. If the order is complained and
refunded, its cashback is cancelled. Check your cashback history on the promotions page; contact
Tokopedia Care if it has not arrived 3 days after the order completed.""",
    ),
    Starter(
        "seller-promotions",
        T.PROMOTIONS,
        A.SELLER,
        "Membuat promosi dan diskon untuk tokomu",
        """Penjual dapat membuat **diskon** produk, voucher toko, dan mengikuti kampanye promosi di
menu **Iklan dan Promosi**. Tentukan periode, kuota, dan potongan harga. Biaya promosi dipotong dari
penghasilan penjualan sesuai ketentuan kampanye.""",
        "Creating promotions and discounts for your shop",
        """Sellers can create product **discounts** and shop vouchers and join promotion campaigns in
**Ads and Promotions**. Set the period, the quota and the price cut. Promotion fees are taken from
the sale's income as the campaign's terms say.""",
    ),
]


def articles() -> list[tuple[str, ArticleFields]]:
    """Every starter article as ``(id, fields)``: Indonesian and English, published."""
    found = []
    for starter in STARTERS:
        for locale, title, body in (
            (Locale.ID, starter.id_title, starter.id_body),
            (Locale.EN, starter.en_title, starter.en_body),
        ):
            fields = ArticleFields(
                title=title,
                body=body,
                topic=starter.topic,
                locale=locale,
                audience=starter.audience,
                status=ArticleStatus.PUBLISHED,
                slug=slugify(title),
                translation_group=starter.key,
            )
            found.append((starter_id(f"{starter.key}.{locale.value}"), fields))
    return found
