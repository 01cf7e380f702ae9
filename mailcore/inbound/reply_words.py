"""The words mail clients write above quoted and forwarded mail, one entry per language.

One `ReplyWords` per language Outlook ships a UI in: the labels of Outlook's header block
(From / Sent / To / Subject), its "Original Message" line, the forward markers of Gmail, Apple
Mail and Thunderbird, the words that open and close Gmail's and Apple Mail's attribution line
("On <date>, <name> wrote:") and the mobile signatures ("Sent from my iPhone"). The matcher
(`reply_patterns`) compiles every entry into a few regexes once: adding a language is adding an
entry here, and the README's table is generated from this data.

Each entry names its sources. `SOURCES` says what each one is; "ui" marks words taken from the
clients' own interface that no public fixture searched for this table holds.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LANGUAGES", "SOURCES", "ReplyWords"]

SOURCES = {
    "trimmer": "discourse/email_reply_trimmer lib/email_reply_trimmer/"
    "{embedded_email,email_header,signature}_matcher.rb",
    "talon": "mailgun/talon talon/quotations.py",
    "crisp": "crisp-oss/email-reply-parser lib/regex.ts",
    "mpr": "alfonsrv/mail-parser-reply mailparser_reply/constants.py",
    "tb": "thunderbird/thunderbird-l10n <code>/mail/chrome/messenger/messengercompose/"
    "composeMsgs.properties (mailnews.reply_header_*, forward_header_originalmessage)",
    "quotequail": 'closeio/quotequail tests/files/*.html (mail.ru\'s "От кого:")',
    "ui": "the client's interface strings (Outlook, Gmail, Apple Mail); no public fixture found",
}


@dataclass(frozen=True)
class ReplyWords:
    """The reply and forward words of one language (each field a tuple of alternatives)."""

    code: str
    name: str
    from_: tuple[str, ...]  # Outlook "From:" label
    sent: tuple[str, ...]  # Outlook "Sent:" / "Date:" label
    to: tuple[str, ...]
    subject: tuple[str, ...]
    original: tuple[str, ...]  # "-----Original Message-----" (the words between the dashes)
    forwarded: tuple[str, ...]  # "---------- Forwarded message ---------", "Begin forwarded..."
    on: tuple[str, ...]  # first word(s) of an attribution line: "On", "Am", "Le"
    wrote: tuple[str, ...]  # its last word(s) before the colon: "wrote", "schrieb"
    sent_from: tuple[str, ...]  # mobile signatures; "…" stands for the device's name
    sources: tuple[str, ...]


def _words(text: str) -> tuple[str, ...]:
    return tuple(w.strip() for w in text.split("|") if w.strip())


def _lang(code: str, name: str, *fields: str, sources: str) -> ReplyWords:
    from_, sent, to, subject, original, forwarded, on, wrote, sent_from = map(_words, fields)
    return ReplyWords(
        code, name, from_, sent, to, subject, original, forwarded, on, wrote, sent_from,
        _words(sources),
    )  # fmt: skip


# Fields, in order: From | Sent/Date | To | Subject | Original Message | Forwarded |
# attribution opener | attribution verb | mobile signature.
LANGUAGES: tuple[ReplyWords, ...] = (
    _lang("ar", "Arabic", "من", "تاريخ الإرسال|أرسلت|التاريخ", "إلى", "الموضوع",
          "الرسالة الأصلية|الرسالة الأصليَّة", "رسالة معاد توجيهها|رسالة ممرّرة", "في|على",
          "كتب|كتبت|تمت كتابة ما يلي بواسطة", "أرسلت من|مرسل من", sources="tb|ui"),
    _lang("bg", "Bulgarian", "От", "Изпратено|Дата", "До", "Относно|Тема",
          "Оригинално съобщение|Оригинално писмо", "Препратено съобщение|Препратено писмо",
          "На", "написа", "Изпратено от моя", sources="tb|ui"),
    _lang("ca", "Catalan", "De", "Enviat|Data", "A|Per a", "Assumpte",
          "Missatge original", "Missatge reenviat", "El", "va escriure|ha escrit",
          "Enviat des del meu|Enviat des de", sources="tb|ui"),
    _lang("cs", "Czech", "Od", "Odesláno|Datum", "Komu", "Předmět",
          "Původní zpráva|Původní e-mail", "Přeposlaná zpráva", "Dne",
          "napsal(a)|napsal|napsala", "Odesláno z mého|Odesláno z", sources="mpr|tb|ui"),
    _lang("da", "Danish", "Fra", "Sendt|Dato", "Til", "Emne",
          "Oprindelig meddelelse|Oprindelig besked", "Videresendt meddelelse|Videresendt besked",
          "Den", "skrev", "Sendt fra min|Sendt fra|Hent Outlook til", sources="mpr|crisp"),
    _lang("de", "German", "Von", "Gesendet|Datum", "An", "Betreff",
          "Ursprüngliche Nachricht|Original-Nachricht",
          "Weitergeleitete Nachricht|Anfang der weitergeleiteten Nachricht|"
          "Anfang der weitergeleiteten E-Mail",
          "Am", "schrieb|geschrieben",
          "Von meinem … gesendet|Gesendet von meinem|Gesendet mit|Gesendet von",
          sources="trimmer|talon|mpr|crisp|tb"),
    _lang("el", "Greek", "Από", "Στάλθηκε|Ημερομηνία", "Προς", "Θέμα",
          "Αρχικό μήνυμα", "Προωθημένο μήνυμα", "Στις", "έγραψε",
          "Στάλθηκε από το|Εστάλη από το", sources="tb|ui"),
    _lang("en", "English", "From", "Sent|Date", "To", "Subject",
          "Original Message|Reply Message|Original Appointment",
          "Forwarded message|Forwarded Message|Begin forwarded message", "On|At|In message",
          "wrote|writes", "Sent from my|Sent from|Sent with|Sent via|Get Outlook for",
          sources="trimmer|talon|crisp|mpr"),
    _lang("es", "Spanish", "De", "Enviado|Fecha", "Para", "Asunto",
          "Mensaje original", "Mensaje reenviado|Inicio del mensaje reenviado", "El",
          "escribió", "Enviado desde mi|Enviado desde", sources="trimmer|crisp|mpr"),
    _lang("et", "Estonian", "Saatja", "Saadetud|Kuupäev", "Adressaat", "Teema",
          "Algne sõnum|Algne kiri", "Edasi saadetud sõnum|Edastatud kiri", "",
          "kirjutas", "Saadetud minu", sources="tb|ui"),
    _lang("eu", "Basque", "Nork", "Noiz|Data", "Nori", "Gaia",
          "Jatorrizko mezua", "Birbidalitako mezua", "", "idatzi zuen|idatzi du",
          "Nire … bidalia", sources="tb|ui"),
    _lang("fi", "Finnish", "Lähettäjä", "Lähetetty|Päivämäärä", "Vastaanottaja", "Aihe",
          "Alkuperäinen viesti|Alkuperäinen viesti / Orig.Msg.",
          "Välitetty viesti|Välitetty viesti / Fwd.Msg", "", "kirjoitti",
          "Lähetetty … iPhonesta|Lähetetty laitteesta", sources="crisp|tb|ui"),
    _lang("fr", "French", "De|Expéditeur", "Envoyé|Date|Envoyé le|Date d'envoi",
          "À|Destinataire", "Objet",
          "Message d'origine|Message original",
          "Message transféré|Début du message transféré|Début du message réexpédié",
          "Le", "a écrit|écrivait|nous a dit",
          "Envoyé de mon|Envoyé depuis|Envoyé à partir de|Télécharger Outlook pour",
          sources="trimmer|talon|crisp|mpr"),
    _lang("gl", "Galician", "De", "Enviado|Data", "Para", "Asunto",
          "Mensaxe orixinal", "Mensaxe reenviada", "O", "escribiu",
          "Enviado desde o meu", sources="tb|ui"),
    _lang("he", "Hebrew", "מאת", "נשלח|תאריך", "אל", "נושא",
          "הודעה מקורית", "הודעה שהועברה|הודעה מועברת", "בתאריך", "כתב|כתבה|נכתב על ידי",
          "נשלח מה-", sources="tb|ui"),
    _lang("hi", "Hindi", "प्रेषक", "भेजा गया|दिनांक", "प्रति", "विषय",
          "मूल संदेश", "अग्रेषित संदेश", "", "ने लिखा", "मेरे … से भेजा गया", sources="ui"),
    _lang("hr", "Croatian", "Šalje", "Poslano|Datum", "Prima", "Predmet",
          "Izvorna poruka", "Proslijeđena poruka", "",
          "napisao je|napisala je|je napisao|je napisala|napisao|napisala|piše",
          "Poslano s mog|Poslano s", sources="tb|ui"),
    _lang("hu", "Hungarian", "Feladó", "Elküldve|Dátum", "Címzett", "Tárgy",
          "Eredeti üzenet", "Továbbított üzenet", "", "ezt írta|írta",
          "Elküldve az … készülékről|Az … készülékemről küldve", sources="tb|ui"),
    _lang("id", "Indonesian", "Dari", "Dikirim|Tanggal", "Kepada", "Subjek|Perihal",
          "Pesan Asli", "Pesan yang diteruskan|Pesan terusan|Pesan Diteruskan", "Pada", "menulis",
          "Dikirim dari", sources="tb|ui"),
    _lang("it", "Italian", "Da", "Inviato|Data", "A", "Oggetto",
          "Messaggio originale", "Messaggio inoltrato|Inizio messaggio inoltrato",
          "Il|In data", "ha scritto|scrive", "Inviato da", sources="trimmer|crisp|mpr"),
    _lang("ja", "Japanese", "差出人|送信者", "送信日時|日付", "宛先", "件名",
          "元のメッセージ|元のメール", "転送されたメッセージ|転送メッセージ", "",
          "のメール|のメッセージ|さんは書きました|は書きました", "…から送信",
          sources="mpr|crisp|ui"),
    _lang("kk", "Kazakh", "Кімнен", "Жіберілді|Күні", "Кімге", "Тақырып",
          "Бастапқы хабар|Бастапқы хабарлама|Түпнұсқа хабарламасы",
          "Қайта жіберілген хабар|Әрі қарай жіберілген хабарлама", "", "жазды|жазған",
          "… жіберілді", sources="tb|ui"),
    _lang("ko", "Korean", "보낸 사람", "보낸 날짜|날짜", "받는 사람", "제목",
          "원본 메시지", "전달된 메시지|전달 메시지", "", "님이 작성|작성|작성하였습니다|쓴 글",
          "내 … 에서 보냄|…에서 보냄", sources="mpr|crisp|tb|ui"),
    _lang("lt", "Lithuanian", "Nuo|Siuntėjas", "Išsiųsta|Data", "Kam", "Tema",
          "Originalus laiškas|Pradinis laiškas", "Persiųstas laiškas", "", "rašė",
          "Išsiųsta iš mano", sources="tb|ui"),
    _lang("lv", "Latvian", "No", "Nosūtīts|Datums", "Kam", "Tēma",
          "Sākotnējā vēstule|Sākotnējais ziņojums|Oriģinālā vēstule",
          "Pārsūtīts ziņojums|Pārsūtītā vēstule",
          "", "rakstīja", "Nosūtīts no mana", sources="tb|ui"),
    _lang("ms", "Malay", "Daripada", "Dihantar|Tarikh", "Kepada", "Subjek",
          "Mesej Asal", "Mesej yang dimajukan|Mesej dimajukan|Mesej Dikirim Semula", "Pada",
          "menulis|membalas", "Dihantar dari", sources="tb|ui"),
    _lang("nb", "Norwegian Bokmål", "Fra", "Sendt|Dato", "Til", "Emne",
          "Opprinnelig melding|Original melding", "Videresendt melding", "Den|På",
          "skrev", "Sendt fra min|Sendt fra", sources="trimmer|talon"),
    _lang("nl", "Dutch", "Van", "Verzonden|Datum", "Aan", "Onderwerp",
          "Oorspronkelijk bericht|Origineel bericht",
          "Doorgestuurd bericht|Begin doorgestuurd bericht", "Op",
          "schreef|het volgende geschreven|geschreven",
          "Verzonden vanaf mijn|Verstuurd vanaf mijn|Verzonden met|Verzonden vanaf",
          sources="trimmer|talon|crisp|mpr"),
    _lang("pl", "Polish", "Od", "Wysłano|Wysłane|Data", "Do", "Temat",
          "Wiadomość oryginalna|Oryginalna wiadomość|Treść oryginalnej wiadomości",
          "Przekazana wiadomość|Wiadomość przekazana dalej|Treść przekazanej wiadomości",
          "W dniu|Dnia",
          "napisał(a)|napisał|napisała|pisze|nadesłał",
          "Wysłano z mojego|Wysłane z mojego|Wysłano z", sources="trimmer|talon|crisp|mpr|tb"),
    _lang("pt-BR", "Portuguese (Brazil)", "De", "Enviado|Enviada em|Data", "Para", "Assunto",
          "Mensagem original", "Mensagem encaminhada", "Em", "escreveu",
          "Enviado do meu|Enviado do", sources="trimmer|crisp"),
    _lang("pt-PT", "Portuguese (Portugal)", "De", "Enviado|Enviada|Data", "Para", "Assunto",
          "Mensagem original", "Mensagem reencaminhada", "A|No dia|Em", "escreveu",
          "Enviado do meu|Enviado do", sources="trimmer|ui"),
    _lang("ro", "Romanian", "De la", "Trimis|Data", "Către", "Subiect",
          "Mesaj original|Mesajul original", "Mesaj redirecționat|Mesaj redirecţionat", "Pe|La",
          "a scris", "Trimis de pe|Trimis de pe iPhone", sources="tb|ui"),
    _lang("ru", "Russian", "От|От кого", "Отправлено|Дата", "Кому", "Тема",
          "Исходное сообщение|Оригинальное сообщение",
          "Пересылаемое сообщение|Перенаправленное сообщение|Пересланное сообщение", "",
          "написал(а)|написал|написала|пишет", "Отправлено с|Отправлено из",
          sources="trimmer|talon|tb|quotequail"),
    _lang("sk", "Slovak", "Od", "Odoslané|Dátum", "Komu", "Predmet",
          "Pôvodná správa|Pôvodná správa --- Original Message",
          "Preposlaná správa|Preposlaná správa --- Forwarded Message", "Dňa",
          "napísal(a)|napísal|napísala", "Odoslané z môjho|Odoslané z", sources="trimmer|tb|ui"),
    _lang("sl", "Slovenian", "Od", "Poslano|Datum", "Za", "Zadeva",
          "Izvirno sporočilo", "Posredovano sporočilo", "",
          "je napisal(a)|napisal(a)|napisal|napisala", "Poslano iz mojega|Poslano iz",
          sources="tb|ui"),
    _lang("sr", "Serbian", "Од|Od", "Послато|Poslato|Датум", "За|Za", "Тема|Tema",
          "Изворна порука|Оригинална порука|Originalna poruka",
          "Прослеђена порука|Prosleđena poruka", "Дана|Dana",
          "је написао/ла|је написао|је написала|написао|написала|je napisao/la|je napisao|"
          "je napisala|пише|piše",
          "Послато са мог|Poslato sa mog", sources="tb|ui"),
    _lang("sv", "Swedish", "Från", "Skickat|Datum", "Till", "Ämne",
          "Ursprungligt meddelande|Originalmeddelande", "Vidarebefordrat meddelande",
          "Den", "skrev", "Skickat från min|Skickat från", sources="trimmer|talon|mpr"),
    _lang("th", "Thai", "จาก", "ส่ง|วันที่", "ถึง", "เรื่อง",
          "ข้อความต้นฉบับ", "ข้อความที่ส่งต่อ", "เมื่อ", "เขียนว่า", "ส่งจาก", sources="tb|ui"),
    _lang("tr", "Turkish", "Kimden", "Gönderildi|Gönderilme|Tarih", "Kime", "Konu",
          "Özgün İleti|Orijinal Mesaj|Orijinal ileti", "İletilen İleti|Yönlendirilmiş ileti",
          "", "şunu yazdı|yazdı", "…'dan gönderildi|…'den gönderildi|…'umdan gönderildi",
          sources="tb|ui"),
    _lang("uk", "Ukrainian", "Від", "Надіслано|Дата", "Кому", "Тема",
          "Початкове повідомлення|Вихідне повідомлення|Оригінальне повідомлення",
          "Переслане повідомлення", "",
          "пише|написав|написала", "Надіслано з", sources="trimmer|tb|ui"),
    _lang("vi", "Vietnamese", "Từ", "Đã gửi|Ngày", "Đến", "Chủ đề",
          "Thư gốc", "Thư đã chuyển tiếp|Tin nhắn đã được chuyển tiếp", "Vào", "đã viết",
          "Gửi từ", sources="tb|ui"),
    _lang("zh-CN", "Chinese (Simplified)", "发件人", "发送时间|日期", "收件人", "主题",
          "原始邮件|原始消息", "转发的邮件|转发邮件|转发的消息", "在", "写道",
          "发自我的|从我的 … 发送",
          sources="trimmer|mpr|crisp|tb"),
    _lang("zh-TW", "Chinese (Traditional)", "寄件者|寄件人", "寄件日期|傳送時間|日期",
          "收件者|收件人", "主旨", "原始郵件|原始訊息", "轉寄的郵件|轉寄郵件|已轉寄郵件",
          "在|於", "寫道", "從我的 … 傳送|從我的iPhone傳送", sources="trimmer|ui"),
)  # fmt: skip


def markdown_table() -> str:
    """The sources and the table as the README publishes them (a test checks that the README
    holds exactly this: tests/mailcore/inbound/test_quoting_readme.py)."""
    sources = [f"- `{key}`: {what}" for key, what in SOURCES.items()]
    rows = [
        *sources,
        "",
        "| code | language | From / Sent / To / Subject | Original / Forwarded | attribution"
        " (opener … verb) | mobile signature | sources |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for w in LANGUAGES:
        labels = " / ".join(", ".join(x) for x in (w.from_, w.sent, w.to, w.subject))
        lines = " / ".join(", ".join(x) for x in (w.original, w.forwarded))
        attribution = f"{', '.join(w.on) or '-'} … {', '.join(w.wrote)}"
        cells = (w.code, w.name, labels, lines, attribution, ", ".join(w.sent_from) or "-")
        row = " | ".join(c.replace("|", "\\|") for c in cells)
        rows.append(f"| {row} | {', '.join(w.sources)} |")
    return "\n".join(rows)
