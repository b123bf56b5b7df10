"""Word lists of the embedded corpus, as data: what the script generators may say.

Arabic is written undiacritized, as eSpeak NG reads it and as the targets are scored. Gender is
``"m"`` or ``"f"`` wherever a verb or adjective has to agree. Nothing here draws at random;
``scripts.py`` does.
"""

from __future__ import annotations

from typing import NamedTuple


class Noun(NamedTuple):
    """A definite noun and its grammatical gender."""

    word: str
    gender: str


class Adjective(NamedTuple):
    """A definite adjective in its masculine and feminine forms."""

    masculine: str
    feminine: str


class Verb(NamedTuple):
    """A transitive verb: past and present, masculine and feminine 3rd person singular, and the
    object categories (keys of ``OBJECTS``) it takes."""

    past_m: str
    past_f: str
    present_m: str
    present_f: str
    objects: tuple[str, ...]


# ---------------------------------------------------------------------------------------------
# ASR (and emotion): a small grammar of everyday sentences.

SUBJECTS: tuple[Noun, ...] = tuple(
    Noun(word, "m")
    for word in (
        "أحمد", "محمد", "خالد", "عمر", "يوسف", "علي", "حسن", "كريم", "سامي", "ماجد",
        "طارق", "زياد", "فهد", "نبيل", "رامي", "الطالب", "المعلم", "الطبيب", "المهندس",
        "الموظف", "الولد", "الرجل", "الجار", "المدير", "الصحفي", "السائق", "الفلاح", "التاجر",
        "اللاعب", "الباحث",
    )
) + tuple(
    Noun(word, "f")
    for word in (
        "سارة", "فاطمة", "مريم", "ليلى", "نور", "هدى", "سلمى", "رنا", "عائشة", "ياسمين",
        "دينا", "لينا", "أمل", "هند", "ريم", "الطالبة", "المعلمة", "الطبيبة", "المهندسة",
        "الموظفة", "البنت", "المرأة", "الجارة", "المديرة", "الصحفية", "الممرضة", "الباحثة",
    )
)  # fmt: skip

OBJECTS: dict[str, tuple[Noun, ...]] = {
    "goods": (
        Noun("السيارة", "f"), Noun("الكتاب", "m"), Noun("الهاتف", "m"), Noun("الحقيبة", "f"),
        Noun("القميص", "m"), Noun("الدراجة", "f"), Noun("الساعة", "f"), Noun("الحاسوب", "m"),
        Noun("المفتاح", "m"), Noun("القلم", "m"), Noun("الطاولة", "f"), Noun("الكرسي", "m"),
        Noun("المظلة", "f"), Noun("الخاتم", "m"), Noun("الهدية", "f"),
    ),
    "documents": (
        Noun("الرسالة", "f"), Noun("الجريدة", "f"), Noun("القصة", "f"), Noun("التقرير", "m"),
        Noun("المقال", "m"), Noun("الواجب", "m"), Noun("الدرس", "m"), Noun("الرواية", "f"),
        Noun("القصيدة", "f"), Noun("الكتاب", "m"), Noun("المجلة", "f"),
    ),
    "openable": (
        Noun("الباب", "m"), Noun("النافذة", "f"), Noun("الحقيبة", "f"), Noun("الصندوق", "m"),
        Noun("الخزانة", "f"), Noun("الثلاجة", "f"), Noun("المحل", "m"), Noun("البوابة", "f"),
    ),
    "rooms": (
        Noun("الغرفة", "f"), Noun("المطبخ", "m"), Noun("البيت", "m"), Noun("الحمام", "m"),
        Noun("المكتب", "m"), Noun("الشقة", "f"), Noun("الحديقة", "f"), Noun("الساحة", "f"),
    ),
    "food": (
        Noun("الطعام", "m"), Noun("الأرز", "m"), Noun("السمك", "m"), Noun("الدجاج", "m"),
        Noun("العشاء", "m"), Noun("الغداء", "m"), Noun("الخبز", "m"), Noun("الحساء", "m"),
        Noun("الكعكة", "f"), Noun("السلطة", "f"), Noun("الفطيرة", "f"), Noun("التفاحة", "f"),
    ),
    "drinks": (
        Noun("القهوة", "f"), Noun("الشاي", "m"), Noun("الحليب", "m"), Noun("العصير", "m"),
        Noun("الماء", "m"), Noun("الليمونادة", "f"),
    ),
    "places": (
        Noun("المتحف", "m"), Noun("المدينة", "f"), Noun("الجامعة", "f"), Noun("المستشفى", "m"),
        Noun("القرية", "f"), Noun("السوق", "m"), Noun("المكتبة", "f"), Noun("الحديقة", "f"),
        Noun("المسجد", "m"), Noun("القلعة", "f"), Noun("الشاطئ", "m"), Noun("المزرعة", "f"),
    ),
    "media": (
        Noun("الفيلم", "m"), Noun("المباراة", "f"), Noun("البرنامج", "m"), Noun("الصورة", "f"),
        Noun("الأغنية", "f"), Noun("المسرحية", "f"), Noun("الخبر", "m"), Noun("الحلقة", "f"),
    ),
    "fixable": (
        Noun("السيارة", "f"), Noun("الهاتف", "m"), Noun("الحاسوب", "m"), Noun("الباب", "m"),
        Noun("الدراجة", "f"), Noun("الساعة", "f"), Noun("الثلاجة", "f"), Noun("المصباح", "m"),
        Noun("الغسالة", "f"), Noun("التلفاز", "m"),
    ),
    "clothes": (
        Noun("القميص", "m"), Noun("الملابس", "f"), Noun("الصحون", "f"), Noun("السيارة", "f"),
        Noun("الفستان", "m"), Noun("المعطف", "m"), Noun("السجادة", "f"),
    ),
}  # fmt: skip

VERBS: tuple[Verb, ...] = (
    Verb("قرأ", "قرأت", "يقرأ", "تقرأ", ("documents",)),
    Verb("كتب", "كتبت", "يكتب", "تكتب", ("documents",)),
    Verb("اشترى", "اشترت", "يشتري", "تشتري", ("goods", "food", "drinks")),
    Verb("باع", "باعت", "يبيع", "تبيع", ("goods",)),
    Verb("فتح", "فتحت", "يفتح", "تفتح", ("openable",)),
    Verb("أغلق", "أغلقت", "يغلق", "تغلق", ("openable",)),
    Verb("نظف", "نظفت", "ينظف", "تنظف", ("rooms",)),
    Verb("رتب", "رتبت", "يرتب", "ترتب", ("rooms",)),
    Verb("أصلح", "أصلحت", "يصلح", "تصلح", ("fixable",)),
    Verb("حمل", "حملت", "يحمل", "تحمل", ("goods",)),
    Verb("طبخ", "طبخت", "يطبخ", "تطبخ", ("food",)),
    Verb("أكل", "أكلت", "يأكل", "تأكل", ("food",)),
    Verb("شرب", "شربت", "يشرب", "تشرب", ("drinks",)),
    Verb("زار", "زارت", "يزور", "تزور", ("places",)),
    Verb("وجد", "وجدت", "يجد", "تجد", ("goods",)),
    Verb("أرسل", "أرسلت", "يرسل", "ترسل", ("documents",)),
    Verb("شاهد", "شاهدت", "يشاهد", "تشاهد", ("media",)),
    Verb("سمع", "سمعت", "يسمع", "تسمع", ("media",)),
    Verb("أحب", "أحبت", "يحب", "تحب", ("media", "places", "food")),
    Verb("استعمل", "استعملت", "يستعمل", "تستعمل", ("goods",)),
    Verb("غسل", "غسلت", "يغسل", "تغسل", ("clothes",)),
    Verb("جهز", "جهزت", "يجهز", "تجهز", ("food", "rooms", "documents")),
    Verb("ترك", "تركت", "يترك", "تترك", ("goods",)),
    Verb("نسي", "نسيت", "ينسى", "تنسى", ("goods",)),
    Verb("وصف", "وصفت", "يصف", "تصف", ("places", "media", "rooms")),
    Verb("صور", "صورت", "يصور", "تصور", ("places", "rooms", "media")),
)

ADJECTIVES: dict[str, tuple[Adjective, ...]] = {
    "physical": (
        Adjective("الجديد", "الجديدة"), Adjective("القديم", "القديمة"),
        Adjective("الكبير", "الكبيرة"), Adjective("الصغير", "الصغيرة"),
        Adjective("الجميل", "الجميلة"), Adjective("الثقيل", "الثقيلة"),
        Adjective("الخفيف", "الخفيفة"), Adjective("الرخيص", "الرخيصة"),
        Adjective("الأحمر", "الحمراء"), Adjective("الأبيض", "البيضاء"),
        Adjective("الأسود", "السوداء"), Adjective("الأزرق", "الزرقاء"),
        Adjective("الأخضر", "الخضراء"),
    ),
    "text": (
        Adjective("الطويل", "الطويلة"), Adjective("القصير", "القصيرة"),
        Adjective("المهم", "المهمة"), Adjective("الجديد", "الجديدة"),
        Adjective("القديم", "القديمة"), Adjective("الممتع", "الممتعة"),
        Adjective("الصعب", "الصعبة"), Adjective("السهل", "السهلة"),
    ),
    "space": (
        Adjective("الكبير", "الكبيرة"), Adjective("الصغير", "الصغيرة"),
        Adjective("الواسع", "الواسعة"), Adjective("النظيف", "النظيفة"),
        Adjective("الجميل", "الجميلة"), Adjective("القديم", "القديمة"),
        Adjective("البعيد", "البعيدة"), Adjective("القريب", "القريبة"),
        Adjective("الهادئ", "الهادئة"),
    ),
    "taste": (
        Adjective("اللذيذ", "اللذيذة"), Adjective("الساخن", "الساخنة"),
        Adjective("البارد", "الباردة"), Adjective("الطازج", "الطازجة"),
        Adjective("الحلو", "الحلوة"),
    ),
}  # fmt: skip

OBJECT_ADJECTIVES: dict[str, str] = {
    "goods": "physical",
    "documents": "text",
    "openable": "physical",
    "rooms": "space",
    "food": "taste",
    "drinks": "taste",
    "places": "space",
    "media": "text",
    "fixable": "physical",
    "clothes": "physical",
}

PLACES: tuple[str, ...] = (
    "المدرسة", "البيت", "السوق", "المكتبة", "الحديقة", "المستشفى", "الجامعة", "المطبخ",
    "المكتب", "المدينة", "القرية", "المطعم", "الشارع", "المحطة", "المطار", "الفندق", "الملعب",
    "المتحف", "النادي", "المصنع", "المزرعة", "الميناء",
)  # fmt: skip

# Companions take a possessive suffix that agrees with the subject (ه / ها).
COMPANIONS: tuple[str, ...] = (
    "صديق", "صديقة", "والد", "والدة", "زميل", "زميلة", "جار", "جارة", "ابن", "ابنة", "عم",
    "خال", "جد", "جدة",
)  # fmt: skip

WEEKDAYS: tuple[str, ...] = (
    "السبت", "الأحد", "الاثنين", "الثلاثاء", "الأربعاء", "الخميس", "الجمعة",
)  # fmt: skip

PAST_TIMES: tuple[str, ...] = (
    "أمس", "اليوم", "صباح اليوم", "مساء أمس", "قبل يومين", "في الأسبوع الماضي", "ليلة أمس",
    "في الصباح", "في المساء", "منذ قليل", "في الشهر الماضي",
    *(f"يوم {day}" for day in WEEKDAYS),
)  # fmt: skip

PRESENT_TIMES: tuple[str, ...] = (
    "كل يوم", "كل صباح", "كل مساء", "دائما", "عادة", "كل أسبوع", "أحيانا", "في العطلة",
    *(f"كل يوم {day.removeprefix('ال')}" for day in WEEKDAYS),
)  # fmt: skip

FUTURE_TIMES: tuple[str, ...] = (
    "غدا", "بعد غد", "في الأسبوع القادم", "صباح الغد", "مساء الغد", "في الشهر القادم",
    *(f"يوم {day} القادم" for day in WEEKDAYS),
)  # fmt: skip

FUTURE_PARTICLE = "سوف"

# ---------------------------------------------------------------------------------------------
# Speech summarization: news sentences in the style of Mega-SSum, and their headlines.


class Event(NamedTuple):
    """A news event: the verbal noun spoken in the sentence, the present-tense verb of the
    headline (masculine, feminine), and its objects as (spoken after the verbal noun, headline)
    forms — the headline puts indefinite masculine objects in the accusative."""

    noun: str
    present_m: str
    present_f: str
    objects: tuple[tuple[str, str], ...]


class Report(NamedTuple):
    """A reporting verb (masculine, feminine past) and the preposition it takes ("" if none)."""

    past_m: str
    past_f: str
    preposition: str


ACTORS: tuple[Noun, ...] = (
    Noun("وزارة الصحة", "f"), Noun("وزارة التعليم", "f"), Noun("وزارة النقل", "f"),
    Noun("وزارة الثقافة", "f"), Noun("وزارة الزراعة", "f"), Noun("الحكومة", "f"),
    Noun("البلدية", "f"), Noun("هيئة الطرق", "f"), Noun("جامعة الملك سعود", "f"),
    Noun("الشركة الوطنية", "f"), Noun("وزير الصحة", "m"), Noun("وزير التعليم", "m"),
    Noun("وزير النقل", "m"), Noun("رئيس الوزراء", "m"), Noun("المحافظ", "m"),
    Noun("مجلس المدينة", "m"), Noun("البنك المركزي", "m"), Noun("الاتحاد الرياضي", "m"),
    Noun("صندوق التنمية", "m"), Noun("مجلس الوزراء", "m"),
)  # fmt: skip

REPORTS: tuple[Report, ...] = (
    Report("أعلن", "أعلنت", "عن"),
    Report("كشف", "كشفت", "عن"),
    Report("وافق", "وافقت", "على"),
    Report("قرر", "قررت", ""),
)

EVENTS: tuple[Event, ...] = (
    Event("افتتاح", "يفتتح", "تفتتح", (
        ("مستشفى جديد", "مستشفى جديدا"), ("مدرسة حديثة", "مدرسة حديثة"),
        ("متحف وطني", "متحفا وطنيا"), ("مكتبة عامة", "مكتبة عامة"),
        ("جسر جديد", "جسرا جديدا"), ("مطار دولي", "مطارا دوليا"),
        ("مركز ثقافي", "مركزا ثقافيا"), ("حديقة عامة", "حديقة عامة"),
    )),
    Event("إطلاق", "يطلق", "تطلق", (
        ("برنامج وطني", "برنامجا وطنيا"), ("حملة توعية", "حملة توعية"),
        ("منصة رقمية", "منصة رقمية"), ("مبادرة جديدة", "مبادرة جديدة"),
        ("تطبيق ذكي", "تطبيقا ذكيا"), ("قمر صناعي", "قمرا صناعيا"),
    )),
    Event("توقيع", "يوقع", "توقع", (
        ("اتفاقية تعاون", "اتفاقية تعاون"), ("عقد شراكة", "عقد شراكة"),
        ("مذكرة تفاهم", "مذكرة تفاهم"), ("اتفاقية تجارية", "اتفاقية تجارية"),
    )),
    Event("تنظيم", "ينظم", "تنظم", (
        ("مؤتمر دولي", "مؤتمرا دوليا"), ("مهرجان ثقافي", "مهرجانا ثقافيا"),
        ("معرض الكتاب", "معرض الكتاب"), ("بطولة رياضية", "بطولة رياضية"),
        ("ملتقى الشباب", "ملتقى الشباب"),
    )),
    Event("بناء", "يبني", "تبني", (
        ("محطة كهرباء", "محطة كهرباء"), ("طريق سريع", "طريقا سريعا"),
        ("مساكن جديدة", "مساكن جديدة"), ("سد جديد", "سدا جديدا"),
        ("ميناء تجاري", "ميناء تجاريا"),
    )),
    Event("تطوير", "يطور", "تطور", (
        ("شبكة النقل", "شبكة النقل"), ("منظومة التعليم", "منظومة التعليم"),
        ("الخدمات الصحية", "الخدمات الصحية"), ("المناطق الصناعية", "المناطق الصناعية"),
    )),
    Event("دعم", "يدعم", "تدعم", (
        ("المشاريع الصغيرة", "المشاريع الصغيرة"), ("الشباب", "الشباب"),
        ("المزارعين", "المزارعين"), ("الأسر المحتاجة", "الأسر المحتاجة"),
    )),
)  # fmt: skip

CITIES: tuple[str, ...] = (
    "القاهرة", "الرياض", "دبي", "بيروت", "عمان", "الرباط", "تونس", "الجزائر", "بغداد",
    "دمشق", "الدوحة", "الكويت", "مسقط", "جدة", "الإسكندرية", "طرابلس", "الخرطوم", "المنامة",
    "أبوظبي", "مراكش",
)  # fmt: skip

NEWS_TIMES: tuple[str, ...] = (
    *(f"{part} يوم {day}" for part in ("صباح", "مساء") for day in WEEKDAYS),
    "صباح اليوم", "مساء أمس", "خلال مؤتمر صحفي", "في بيان رسمي",
)  # fmt: skip

NEWS_CLAUSES: tuple[str, ...] = (
    "لخدمة المواطنين", "لدعم الاقتصاد الوطني", "لتحسين جودة الحياة", "ضمن خطة التنمية",
    "بمشاركة عدد من الخبراء", "لتوفير فرص عمل جديدة", "بحضور عدد من المسؤولين",
    "لخدمة سكان المنطقة", "بالتعاون مع القطاع الخاص", "لعلاج الأطفال",
)  # fmt: skip

# ---------------------------------------------------------------------------------------------
# Dialect ID: shared content, dialect-specific markers. Each template has one phrasing list per
# dialect; ``{place}``, ``{thing}``, ``{goods}``, ``{adj}``, ``{dem}`` and ``{verb}`` come from
# shared content, ``+`` glues a clitic to the next word (ل+ال → لل).

DIALECTS: tuple[str, ...] = ("msa", "egyptian", "gulf", "levantine", "maghrebi")

DIALECT_PLACES: tuple[str, ...] = (
    "السوق", "البحر", "المطعم", "المستشفى", "الجامعة", "المكتبة", "الحديقة", "المطار",
    "البنك", "الصيدلية", "الملعب", "المسجد", "الفندق", "المدرسة", "المحطة",
)  # fmt: skip

DIALECT_THINGS: tuple[Noun, ...] = (
    Noun("البيت", "m"), Noun("السيارة", "f"), Noun("المطعم", "m"), Noun("القهوة", "f"),
    Noun("الشاي", "m"), Noun("الكتاب", "m"), Noun("المدينة", "f"), Noun("الطريق", "m"),
    Noun("الغرفة", "f"), Noun("السوق", "m"), Noun("الفندق", "m"), Noun("الشقة", "f"),
    Noun("المدرسة", "f"), Noun("الفيلم", "m"), Noun("الهاتف", "m"), Noun("الحقيبة", "f"),
)  # fmt: skip

# Things one buys, for "I want to buy ...".
DIALECT_GOODS: tuple[str, ...] = (
    "السيارة", "الكتاب", "الهاتف", "الحقيبة", "القهوة", "الشاي", "الخبز", "الجريدة",
    "الساعة", "القميص",
)  # fmt: skip

# Predicate adjectives (indefinite): masculine, feminine.
DIALECT_ADJECTIVES: tuple[Adjective, ...] = (
    Adjective("كبير", "كبيرة"), Adjective("صغير", "صغيرة"), Adjective("حلو", "حلوة"),
    Adjective("جميل", "جميلة"), Adjective("غالي", "غالية"), Adjective("رخيص", "رخيصة"),
    Adjective("نظيف", "نظيفة"), Adjective("جديد", "جديدة"), Adjective("قديم", "قديمة"),
    Adjective("بعيد", "بعيدة"), Adjective("قريب", "قريبة"),
)  # fmt: skip

# Demonstratives: (masculine, feminine) per dialect.
DEMONSTRATIVES: dict[str, tuple[str, str]] = {
    "msa": ("هذا", "هذه"),
    "egyptian": ("ده", "دي"),
    "gulf": ("هذا", "هذي"),
    "levantine": ("هاد", "هاي"),
    "maghrebi": ("هاد", "هادي"),
}

# Second person present verbs (after "what do you want to ...") per dialect.
DIALECT_VERBS: dict[str, tuple[str, ...]] = {
    "msa": ("تأكل", "تشرب", "تشتري", "تقرأ", "تشاهد"),
    "egyptian": ("تاكل", "تشرب", "تشتري", "تقرا", "تتفرج على"),
    "gulf": ("تاكل", "تشرب", "تشتري", "تقرا", "تشوف"),
    "levantine": ("تاكل", "تشرب", "تشتري", "تقرا", "تشوف"),
    "maghrebi": ("تاكل", "تشرب", "تشري", "تقرا", "تشوف"),
}

DIALECT_TEMPLATES: dict[str, dict[str, tuple[str, ...]]] = {
    "want_go_now": {
        "msa": ("أريد أن أذهب إلى {place} الآن", "أريد الذهاب إلى {place} الآن"),
        "egyptian": ("أنا عايز أروح {place} دلوقتي", "عاوز أروح {place} دلوقتي"),
        "gulf": ("أبغى أروح {place} الحين", "أبي أروح {place} الحين"),
        "levantine": ("بدي روح ع+{place} هلق", "هلق بدي روح ع+{place}"),
        "maghrebi": ("بغيت نمشي ل+{place} دابا", "دابا بغيت نمشي ل+{place}"),
    },
    "what_want": {
        "msa": ("ماذا تريد أن {verb}", "ماذا تحب أن {verb}"),
        "egyptian": ("عايز {verb} إيه", "انت عاوز {verb} إيه"),
        "gulf": ("وش تبغى {verb}", "وش تبي {verb}"),
        "levantine": ("شو بدك {verb}", "شو حابب {verb}"),
        "maghrebi": ("واش بغيتي {verb}", "شنو بغيتي {verb}"),
    },
    "very": {
        "msa": ("{dem} {thing} {adj} جدا",),
        "egyptian": ("{thing} {dem} {adj} أوي", "{thing} {dem} {adj} خالص"),
        "gulf": ("{dem} {thing} {adj} وايد", "{dem} {thing} وايد {adj}"),
        "levantine": ("{dem} {thing} {adj} كتير", "{dem} {thing} كتير {adj}"),
        "maghrebi": ("{dem} {thing} {adj} بزاف", "{dem} {thing} {adj} بزاف بزاف"),
    },
    "not_gone": {
        "msa": ("لم أذهب إلى {place} أمس", "ما ذهبت إلى {place} أمس"),
        "egyptian": ("ما رحتش {place} امبارح", "مرحتش {place} امبارح"),
        "gulf": ("ما رحت {place} أمس", "أمس ما رحت {place}"),
        "levantine": ("ما رحت ع+{place} مبارح", "مبارح ما رحت ع+{place}"),
        "maghrebi": ("ما مشيتش ل+{place} البارح", "البارح ما مشيتش ل+{place}"),
    },
    "will_go": {
        "msa": ("سأذهب إلى {place} غدا", "سوف أذهب إلى {place} غدا"),
        "egyptian": ("هروح {place} بكرة", "حروح {place} بكرة"),
        "gulf": ("بروح {place} باكر", "راح أروح {place} باكر"),
        "levantine": ("رح روح ع+{place} بكرا", "بكرا رح روح ع+{place}"),
        "maghrebi": ("غادي نمشي ل+{place} غدا", "غدا غادي نمشي ل+{place}"),
    },
    "why_go": {
        "msa": ("لماذا تذهب إلى {place} الآن",),
        "egyptian": ("ليه رايح {place} دلوقتي", "رايح {place} ليه دلوقتي"),
        "gulf": ("ليش رايح {place} الحين",),
        "levantine": ("ليش رايح ع+{place} هلق",),
        "maghrebi": ("علاش غادي ل+{place} دابا",),
    },
    "dont_know_where": {
        "msa": ("لا أعرف أين {thing}",),
        "egyptian": ("مش عارف {thing} فين", "معرفش {thing} فين"),
        "gulf": ("ما أدري وين {thing}",),
        "levantine": ("ما بعرف وين {thing}", "مش عارف وين {thing}"),
        "maghrebi": ("ما عرفتش فين {thing}", "ما نعرفش فين {thing}"),
    },
    "want_buy": {
        "msa": ("أريد أن أشتري {goods}",),
        "egyptian": ("عايز أشتري {goods}",),
        "gulf": ("أبغى أشتري {goods}",),
        "levantine": ("بدي إشتري {goods}",),
        "maghrebi": ("بغيت نشري {goods}",),
    },
}

DIALECT_OPENERS: dict[str, tuple[str, ...]] = {
    "msa": ("يا صديقي", "من فضلك", "في الحقيقة"),
    "egyptian": ("يا عم", "بص يا صاحبي", "والنبي"),
    "gulf": ("يا خوي", "يا رجال", "والله"),
    "levantine": ("يا زلمة", "ولك يا صاحبي", "والله"),
    "maghrebi": ("يا خويا", "عافاك", "والله"),
}

# ---------------------------------------------------------------------------------------------
# SLU: SLURP-like scenarios, actions and entity fillers, in Arabic and English. ``{type}`` in a
# template is an entity slot; its filler is spoken as is and copied to the target. A slot named
# ``{type/kind}`` draws from the fillers of that kind and is still an entity of ``type``.


class Intent(NamedTuple):
    """A (scenario, action) pair and its templates per language."""

    scenario: str
    action: str
    templates: dict[str, tuple[str, ...]]


SLU_INTENTS: tuple[Intent, ...] = (
    Intent("alarm", "set", {
        "en": ("wake me up at {time}", "set an alarm for {time} {date}",
               "please set an alarm for {time}"),
        "ar": ("أيقظني {time}", "اضبط المنبه على {time} {date}", "ضع منبها {time}"),
    }),
    Intent("alarm", "query", {
        "en": ("what alarms do i have {date}", "show me my alarms", "is my alarm set for {time}"),
        "ar": ("ما هي المنبهات {date}", "اعرض المنبهات", "هل ضبطت منبها {time}"),
    }),
    Intent("alarm", "remove", {
        "en": ("delete the alarm for {time}", "cancel my alarm {date}", "remove all alarms"),
        "ar": ("احذف منبه {time}", "ألغ المنبه {date}", "احذف كل المنبهات"),
    }),
    Intent("weather", "query", {
        "en": ("what is the weather in {place_name} {date}", "will it rain {date}",
               "is it cold in {place_name}"),
        "ar": ("كيف الطقس في {place_name} {date}", "هل ستمطر {date}",
               "هل الجو بارد في {place_name}"),
    }),
    Intent("play", "music", {
        "en": ("play {song_name} by {artist_name}", "play some {artist_name}",
               "i want to hear {song_name}"),
        "ar": ("شغل أغنية {song_name} من {artist_name}", "شغل أغاني {artist_name}",
               "أريد أن أسمع {song_name}"),
    }),
    Intent("play", "radio", {
        "en": ("play {radio_name}", "turn on the radio", "tune in to {radio_name}"),
        "ar": ("شغل {radio_name}", "شغل الراديو", "افتح إذاعة {radio_name}"),
    }),
    Intent("calendar", "set", {
        "en": ("remind me to call {person} {date} at {time}", "add a meeting with {person} {date}",
               "schedule lunch with {person} at {time}"),
        "ar": ("ذكرني أن أكلم {person} {date} {time}", "أضف اجتماعا مع {person} {date}",
               "سجل موعد غداء مع {person} {time}"),
    }),
    Intent("calendar", "query", {
        "en": ("what is on my calendar {date}", "do i have a meeting with {person} {date}",
               "when is my next meeting"),
        "ar": ("ما هي مواعيدي {date}", "هل عندي اجتماع مع {person} {date}", "متى اجتماعي القادم"),
    }),
    Intent("iot", "hue_lightoff", {
        "en": ("turn off the lights in the {house_place}", "switch off the {house_place} lights",
               "lights off please"),
        "ar": ("أطفئ الأضواء في {house_place}", "أطفئ نور {house_place}", "أطفئ الأنوار من فضلك"),
    }),
    Intent("iot", "hue_lightson", {
        "en": ("turn on the lights in the {house_place}", "switch on the {house_place} lights",
               "lights on please"),
        "ar": ("أشعل الأضواء في {house_place}", "شغل نور {house_place}", "أشعل الأنوار من فضلك"),
    }),
    Intent("iot", "wemo_off", {
        "en": ("turn off the {device_type}", "switch off the {device_type} in the {house_place}"),
        "ar": ("أطفئ {device_type}", "أطفئ {device_type} في {house_place}"),
    }),
    Intent("transport", "taxi", {
        "en": ("book a {transport_type/taxi} to {place_name}",
               "get me a {transport_type/taxi} at {time}",
               "i need a {transport_type/taxi} to {place_name} {date}"),
        "ar": ("احجز {transport_type/taxi} إلى {place_name}", "أريد {transport_type/taxi} {time}",
               "اطلب {transport_type/taxi} إلى {place_name} {date}"),
    }),
    Intent("transport", "ticket", {
        "en": ("book a {transport_type/ticket} ticket to {place_name} {date}",
               "buy me a {transport_type/ticket} ticket for {date}"),
        "ar": ("احجز تذكرة {transport_type/ticket} إلى {place_name} {date}",
               "اشتر لي تذكرة {transport_type/ticket} {date}"),
    }),
    Intent("news", "query", {
        "en": ("what is the latest news about {news_topic}", "tell me the {news_topic} news",
               "any news from {place_name} {date}"),
        "ar": ("ما آخر أخبار {news_topic}", "أخبرني بأخبار {news_topic}",
               "هل من أخبار من {place_name} {date}"),
    }),
)  # fmt: skip

# Said before some requests (never an entity).
SLU_OPENERS: dict[str, tuple[str, ...]] = {
    "en": ("please", "hey there", "okay so", "excuse me", "hello assistant"),
    "ar": ("من فضلك", "لو سمحت", "يا مساعد", "مرحبا", "أرجوك"),
}

SLU_FILLERS: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "time": ("seven am", "six thirty", "eight in the morning", "noon", "nine pm",
                 "ten fifteen", "five in the evening", "midnight", "half past four"),
        "date": ("tomorrow", "today", "friday", "monday", "next week", "this weekend",
                 "tuesday morning", "the day after tomorrow"),
        "place_name": ("london", "new york", "paris", "cairo", "dubai", "boston", "madrid",
                       "tokyo", "the airport", "the city centre"),
        "song_name": ("yellow submarine", "bohemian rhapsody", "let it be", "hotel california",
                      "imagine", "yesterday", "thriller"),
        "artist_name": ("the beatles", "queen", "adele", "michael jackson", "taylor swift",
                        "fairuz", "coldplay"),
        "radio_name": ("bbc radio one", "jazz fm", "classic fm", "radio monte carlo",
                       "the news channel"),
        "person": ("john", "sarah", "my mother", "david", "emma", "the doctor", "ahmed",
                   "my boss"),
        "house_place": ("kitchen", "bedroom", "living room", "bathroom", "garage", "office"),
        "device_type": ("fan", "heater", "coffee machine", "air conditioner", "kettle"),
        "transport_type/taxi": ("taxi", "cab", "car", "minicab"),
        "transport_type/ticket": ("train", "bus", "plane", "ferry"),
        "news_topic": ("sports", "politics", "the economy", "technology", "the elections",
                       "football"),
    },
    "ar": {
        "time": ("الساعة السابعة صباحا", "الساعة السادسة والنصف", "الساعة الثامنة مساء",
                 "الظهر", "الساعة التاسعة ليلا", "الساعة العاشرة والربع", "منتصف الليل",
                 "الساعة الخامسة عصرا"),
        "date": ("غدا", "اليوم", "يوم الجمعة", "يوم الاثنين", "الأسبوع القادم", "بعد غد",
                 "نهاية الأسبوع", "صباح الغد"),
        "place_name": ("القاهرة", "الرياض", "دبي", "بيروت", "عمان", "الرباط", "تونس", "جدة",
                       "المطار", "وسط المدينة"),
        "song_name": ("أنت عمري", "زهرة المدائن", "قارئة الفنجان", "الأماكن", "نور العين",
                      "تملي معاك", "سألوني الناس"),
        "artist_name": ("فيروز", "أم كلثوم", "عمرو دياب", "محمد عبده", "كاظم الساهر",
                        "نانسي عجرم", "عبد الحليم حافظ"),
        "radio_name": ("إذاعة القرآن", "راديو سوا", "مونت كارلو", "إذاعة الأخبار", "راديو مصر"),
        "person": ("أحمد", "سارة", "أمي", "أبي", "الطبيب", "محمد", "المدير", "ليلى"),
        "house_place": ("المطبخ", "غرفة النوم", "الصالة", "الحمام", "المرآب", "المكتب"),
        "device_type": ("المروحة", "المدفأة", "آلة القهوة", "المكيف", "الغلاية"),
        "transport_type/taxi": ("سيارة أجرة", "تاكسي", "سيارة", "أوبر"),
        "transport_type/ticket": ("قطار", "حافلة", "طائرة", "عبارة"),
        "news_topic": ("الرياضة", "السياسة", "الاقتصاد", "التكنولوجيا", "الانتخابات",
                       "كرة القدم"),
    },
}  # fmt: skip

# ---------------------------------------------------------------------------------------------
# Level calibration: one sentence per language spoken by every voice to measure its loudness.

CALIBRATION_SENTENCES: dict[str, str] = {
    "ar": "ذهب الطالب إلى المكتبة صباح اليوم وقرأ كتابا جديدا",
    "en": "please set an alarm for seven in the morning and turn off the lights",
}
