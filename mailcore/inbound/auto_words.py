"""Out-of-office subjects, one entry per language: the data `vacation_subject` reads.

`prefixes` are what an auto-responder puts at the start of the subject (Outlook's localised
"Automatic reply:", Exchange's older "Out of Office:", Gmail's and other responders' own); a
subject starting with one is a vacation reply on its own. `words` are phrases found anywhere in
vacation subjects ("out of office"); they count only beside a header sign (RFC 3834's
Auto-Submitted, X-Autoreply, Precedence, X-Auto-Response-Suppress), since a person may write
them too. Every entry says where its words come from. Adding a language is adding an entry.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LANGUAGES", "VacationWords", "vacation_subject"]

_UI = "Outlook/Exchange UI term, written from the product's localised UI; no captured mail yet"


@dataclass(frozen=True)
class VacationWords:
    language: str  # BCP 47 tag, as Outlook names its UI languages
    prefixes: tuple[str, ...]
    words: tuple[str, ...]
    source: str


def _w(
    lang: str, prefixes: tuple[str, ...], words: tuple[str, ...], source: str = _UI
) -> VacationWords:
    return VacationWords(
        lang, tuple(p.lower() for p in prefixes), tuple(w.lower() for w in words), source
    )


LANGUAGES: tuple[VacationWords, ...] = (
    _w(
        "en",
        (
            "automatic reply:",
            "auto-reply:",
            "autoreply:",
            "auto reply:",
            "out of office:",
            "out of office reply",
            "auto response:",
            "autoresponse:",
            "away from my mail",
            "[auto-reply]",
            "[autoreply]",
            "vacation reply:",
        ),
        (
            "out of office",
            "out-of-office",
            "automatic reply",
            "auto-reply",
            "autoreply",
            "away from the office",
            "on leave",
            "annual leave",
            "on vacation",
            "vacation reply",
        ),
        "RFC 3834 section 3.1.5 examples; mailcore's earlier list (Outlook 'Automatic reply:', "
        "Exchange 2003 'Out of Office:'); tests/fixtures/bounces/written/vacation-*.eml",
    ),
    _w(
        "de",
        ("automatische antwort:", "abwesenheitsnotiz:", "abwesend:"),
        (
            "abwesenheitsnotiz",
            "abwesenheit",
            "automatische antwort",
            "nicht im büro",
            "außer haus",
            "urlaub",
        ),
        "mailcore's earlier list (Outlook de 'Automatische Antwort:', "
        "Exchange 'Abwesenheitsnotiz')",
    ),
    _w(
        "fr",
        (
            "réponse automatique :",
            "réponse automatique:",
            "absence du bureau :",
            "absent du bureau :",
        ),
        ("réponse automatique", "absence du bureau", "absent du bureau", "en congé", "en vacances"),
        "mailcore's earlier list (Outlook fr 'Réponse automatique :'); " + _UI,
    ),
    _w(
        "es",
        ("respuesta automática:", "respuesta automatica:", "fuera de la oficina:"),
        ("fuera de la oficina", "de vacaciones", "ausencia"),
    ),
    _w(
        "it",
        ("risposta automatica:", "fuori sede:", "fuori ufficio:"),
        ("fuori sede", "fuori ufficio", "in ferie", "assenza"),
    ),
    _w(
        "pt-BR",
        ("resposta automática:", "resposta automatica:", "fora do escritório:"),
        ("fora do escritório", "ausência temporária", "de férias"),
    ),
    _w(
        "pt-PT",
        ("resposta automática:", "ausente do escritório:"),
        ("ausente do escritório", "fora do escritório", "de férias"),
    ),
    _w(
        "nl",
        ("automatisch antwoord:", "afwezig:"),
        ("automatisch antwoord", "niet aanwezig", "afwezigheid", "buiten kantoor", "met vakantie"),
    ),
    _w("sv", ("automatiskt svar:", "frånvaro:"), ("frånvarande", "inte på kontoret", "semester")),
    _w("da", ("automatisk svar:", "fraværende:"), ("fraværende", "ikke på kontoret", "ferie")),
    _w("nb", ("automatisk svar:", "fravær:"), ("fraværende", "ikke på kontoret", "ferie")),
    _w("fi", ("automaattinen vastaus:", "poissa toimistolta:"), ("poissa toimistolta", "lomalla")),
    _w(
        "pl",
        ("automatyczna odpowiedź:", "[automatyczna odpowiedź]", "odpowiedź automatyczna:"),
        ("automatyczna odpowiedź", "poza biurem", "nieobecność", "urlop"),
        "Mail-DeliveryStatus-BounceParser t/corpus/polish-autoreply.msg (wp.pl responder); " + _UI,
    ),
    _w("cs", ("automatická odpověď:",), ("mimo kancelář", "nepřítomnost", "dovolená")),
    _w("sk", ("automatická odpoveď:",), ("mimo kancelárie", "neprítomnosť", "dovolenka")),
    _w("hu", ("automatikus válasz:",), ("házon kívül", "szabadság", "távol vagyok")),
    _w("ro", ("răspuns automat:", "raspuns automat:"), ("în afara biroului", "concediu")),
    _w(
        "ru",
        ("автоматический ответ:", "автоответ:"),
        ("автоответ", "вне офиса", "нет на месте", "в отпуске", "отсутствую"),
    ),
    _w("uk", ("автоматична відповідь:", "автовідповідь:"), ("поза офісом", "у відпустці")),
    _w("bg", ("автоматичен отговор:",), ("извън офиса", "в отпуск")),
    _w(
        "sr", ("automatski odgovor:", "аутоматски одговор:"), ("van kancelarije", "ван канцеларије")
    ),
    _w("hr", ("automatski odgovor:",), ("izvan ureda", "na godišnjem odmoru")),
    _w("sl", ("samodejni odgovor:",), ("odsotnost", "zunaj pisarne", "na dopustu")),
    _w("et", ("automaatvastus:",), ("kontorist väljas", "puhkusel")),
    _w("lv", ("automātiskā atbilde:",), ("ārpus biroja", "atvaļinājumā")),
    _w("lt", ("automatinis atsakymas:",), ("ne biure", "atostogose")),
    _w("el", ("αυτόματη απάντηση:",), ("εκτός γραφείου", "σε άδεια")),
    _w(
        "tr",
        ("otomatik yanıt:", "otomatik yanit:", "otomatik cevap:"),
        ("ofis dışında", "izindeyim"),
    ),
    _w("he", ("תשובה אוטומטית:",), ("מחוץ למשרד", "בחופשה")),
    _w("ar", ("رد تلقائي:", "الرد التلقائي:"), ("خارج المكتب", "في إجازة")),
    _w("hi", ("स्वचालित उत्तर:",), ("कार्यालय से बाहर", "छुट्टी पर")),
    _w("th", ("ตอบกลับอัตโนมัติ:",), ("ไม่อยู่ที่สำนักงาน", "ลาพักร้อน")),
    _w("vi", ("trả lời tự động:",), ("vắng mặt", "không có mặt tại văn phòng")),
    _w("id", ("balasan otomatis:",), ("di luar kantor", "sedang cuti")),
    _w("ms", ("balasan automatik:",), ("di luar pejabat", "sedang bercuti")),
    _w(
        "ja",
        ("自動応答:", "自動応答：", "自動返信:", "自動返信：", "[自動返信]", "【自動返信】"),
        ("不在", "外出中", "休暇"),
    ),
    _w("ko", ("자동 회신:", "자동 응답:", "자동회신:"), ("부재중", "외근", "휴가")),
    _w(
        "zh-CN",
        ("自动答复:", "自动答复：", "自动回复:", "自动回复："),
        ("自动回复", "不在办公室", "休假"),
    ),
    _w("zh-TW", ("自動回覆:", "自動回覆：", "自動答覆:", "自動答覆："), ("不在辦公室", "休假")),
    _w("ca", ("resposta automàtica:",), ("fora de l'oficina", "de vacances")),
    _w("eu", ("erantzun automatikoa:",), ("bulegotik kanpo", "oporretan")),
    _w("gl", ("resposta automática:",), ("fóra da oficina", "de vacacións")),
    _w("kk", ("автоматты жауап:",), ("кеңседен тыс", "демалыста")),
)

_PREFIXES = tuple(sorted({p for e in LANGUAGES for p in e.prefixes}, key=len, reverse=True))
_WORDS = tuple({w for e in LANGUAGES for w in e.words})
_BY_PREFIX = {p: "/".join(e.language for e in LANGUAGES if p in e.prefixes) for p in _PREFIXES}
_BY_WORD = {w: "/".join(e.language for e in LANGUAGES if w in e.words) for w in _WORDS}


def vacation_subject(subject: str, header_sign: bool) -> tuple[str, str] | None:
    """(languages, matched words) when the subject is an auto-responder's, else None; the
    languages are those whose entries hold the words, "/"-separated ("da/nb")."""
    low = " ".join(subject[:300].split()).lower()
    if low.startswith(_PREFIXES):  # one call in C; which prefix, only when one does
        prefix = next(p for p in _PREFIXES if low.startswith(p))
        return _BY_PREFIX[prefix], prefix
    if header_sign:
        for word in _WORDS:
            if word in low:
                return _BY_WORD[word], word
    return None
