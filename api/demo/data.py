"""The material synthetic cases are drawn from: Belarusian regions, enterprises, unions, state bodies, wording.

Enterprises, unions and state bodies are real names of the kind the documented cases concern; every person,
event and testimony made from them is invented. People get pseudonyms only (a first name and an initial),
never a full name.
"""

from __future__ import annotations

from dataclasses import dataclass

# Event years and how many cases fall in each: a quiet baseline, the 2020 election and strike wave,
# the 2021-2022 liquidation of the independent unions, and the long tail of prosecutions since.
YEAR_WEIGHTS: dict[int, int] = {
    2016: 3,
    2017: 3,
    2018: 3,
    2019: 4,
    2020: 20,
    2021: 25,
    2022: 18,
    2023: 10,
    2024: 8,
    2025: 6,
}

REGION_PLACES: dict[str, list[str]] = {
    "Minsk City": ["Minsk"],
    "Minsk Region": ["Salihorsk", "Zhodzina", "Barysau", "Maladzechna", "Slutsk", "Minsk"],
    "Brest Region": ["Brest", "Baranavichy", "Pinsk", "Kobryn"],
    "Vitebsk Region": ["Vitebsk", "Novopolotsk", "Polotsk", "Orsha"],
    "Gomel Region": ["Gomel", "Zhlobin", "Mozyr", "Svetlahorsk", "Rechytsa"],
    "Grodno Region": ["Grodno", "Lida", "Slonim", "Vawkavysk"],
    "Mogilev Region": ["Mogilev", "Babruysk", "Asipovichy", "Krychau"],
}
REGION_WEIGHTS: dict[str, int] = {
    "Minsk City": 30,
    "Minsk Region": 20,
    "Gomel Region": 13,
    "Grodno Region": 10,
    "Vitebsk Region": 10,
    "Mogilev Region": 9,
    "Brest Region": 8,
}

# Countries other than Belarus: exiled unionists prosecuted in absentia, cross-border cases.
ABROAD: dict[str, tuple[str, list[str]]] = {
    "LT": ("Vilnius County", ["Vilnius"]),
    "PL": ("Masovian Voivodeship", ["Warsaw", "Białystok"]),
    "RU": ("Moscow", ["Moscow"]),
    "GE": ("Tbilisi", ["Tbilisi"]),
    "UA": ("Kyiv", ["Kyiv"]),
}
COUNTRY_WEIGHTS: dict[str, int] = {"BY": 92, "LT": 3, "PL": 3, "RU": 1, "GE": 0, "UA": 1}

STATE_INDUSTRY = "State industry"
SECTORS = [
    STATE_INDUSTRY,
    "State transport",
    "State education",
    "State healthcare",
    "State media",
    "Private sector",
]


@dataclass(frozen=True)
class Employer:
    name: str
    sector: str
    region: str
    place: str
    weight: int


EMPLOYERS: list[Employer] = [
    Employer("Belaruskali", STATE_INDUSTRY, "Minsk Region", "Salihorsk", 14),
    Employer("Grodno Azot", STATE_INDUSTRY, "Grodno Region", "Grodno", 8),
    Employer("Minsk Automobile Plant (MAZ)", STATE_INDUSTRY, "Minsk City", "Minsk", 9),
    Employer("Belarusian Steel Works (BMZ)", STATE_INDUSTRY, "Gomel Region", "Zhlobin", 8),
    Employer("Naftan", STATE_INDUSTRY, "Vitebsk Region", "Novopolotsk", 7),
    Employer("Mozyr Oil Refinery", STATE_INDUSTRY, "Gomel Region", "Mozyr", 4),
    Employer("BelAZ", STATE_INDUSTRY, "Minsk Region", "Zhodzina", 6),
    Employer("Minsk Tractor Works (MTZ)", STATE_INDUSTRY, "Minsk City", "Minsk", 7),
    Employer("Belshina", STATE_INDUSTRY, "Mogilev Region", "Babruysk", 3),
    Employer("Gomselmash", STATE_INDUSTRY, "Gomel Region", "Gomel", 3),
    Employer("Mogilevkhimvolokno", STATE_INDUSTRY, "Mogilev Region", "Mogilev", 3),
    Employer("Grodno Tobacco Factory Neman", STATE_INDUSTRY, "Grodno Region", "Grodno", 1),
    Employer("Brestgazoapparat", STATE_INDUSTRY, "Brest Region", "Brest", 2),
    Employer("Belarusian Railway", "State transport", "Minsk City", "Minsk", 5),
    Employer("Minsk Metro", "State transport", "Minsk City", "Minsk", 3),
    Employer("Minsk City Emergency Hospital", "State healthcare", "Minsk City", "Minsk", 3),
    Employer("Belarusian State University", "State education", "Minsk City", "Minsk", 3),
    Employer("Grodno State Medical University", "State education", "Grodno Region", "Grodno", 1),
    Employer("Belteleradiocompany", "State media", "Minsk City", "Minsk", 2),
    Employer("Vitebsk Regional Hospital", "State healthcare", "Vitebsk Region", "Vitebsk", 1),
    Employer("A private construction company", "Private sector", "Brest Region", "Brest", 2),
    Employer("A private IT company", "Private sector", "Minsk City", "Minsk", 2),
]

# (name, kind): the independent unions, their international partners and the state bodies acting against them.
UNIONS: list[str] = [
    "Belarusian Independent Trade Union (BNP)",
    "Belarusian Radio and Electronics Workers' Union (REP)",
    "Free Trade Union of Belarus (SPB)",
    "Free Trade Union of Metalworkers (SPM)",
    "Belarusian Congress of Democratic Trade Unions (BKDP)",
    "Independent Trade Union at Belaruskali",
    "Salidarnast Association",
]
STATE_BODIES: list[tuple[str, str, str]] = [
    # name, kind, HURIDOCS MT 24 perpetrator type
    ("State Security Committee (KGB)", "state_body", "010106000000"),
    ("Main Directorate for Combating Organised Crime (GUBOPiK)", "state_body", "010104000000"),
    ("Ministry of Internal Affairs", "state_body", "010104000000"),
    ("Prosecutor General's Office", "state_body", "010101000000"),
    ("Ministry of Justice", "state_body", "010101000000"),
    ("Minsk City Court", "court", "010300000000"),
    ("Supreme Court of Belarus", "court", "010300000000"),
    ("Gomel Regional Court", "court", "010300000000"),
    ("District executive committee", "state_body", "010102000000"),
    ("Federation of Trade Unions of Belarus (FPB)", "other", "020100000000"),
]
PERPETRATOR_STATE_ENTERPRISE = "010000000000"  # Governmental entities
PERPETRATOR_PRIVATE = "020000000000"  # Non-governmental entities

TAGS = [
    "2020-protests",
    "strike-committee",
    "political-prisoner",
    "extremist-list",
    "ilo-case-3405",
    "ituc-index",
    "in-absentia",
    "liquidated-union",
    "solidarity-fund",
    "viasna-confirmed",
]

# Pseudonyms: a first name and an initial, in the spelling of the record's language.
FIRST_NAMES: dict[str, list[str]] = {
    "be": ["Алесь", "Сяргей", "Вольга", "Андрэй", "Святлана", "Мікола", "Ганна", "Зміцер", "Яўген", "Наста"],
    "ru": [
        "Алексей",
        "Сергей",
        "Ольга",
        "Андрей",
        "Светлана",
        "Николай",
        "Анна",
        "Дмитрий",
        "Евгений",
        "Анастасия",
    ],
    "en": [
        "Ales",
        "Siarhei",
        "Volha",
        "Andrei",
        "Sviatlana",
        "Mikalai",
        "Hanna",
        "Zmitser",
        "Yauhen",
        "Nasta",
    ],
}
INITIALS: dict[str, str] = {"be": "АБВГДЗКЛМНПРСТХЦШЯ", "ru": "АБВГДЗКЛМНПРСТХЦШЯ", "en": "ABDHKLMPRSTVZ"}
OCCUPATIONS = [
    "miner",
    "machine operator",
    "electrician",
    "locksmith",
    "engineer",
    "chemist",
    "train driver",
    "nurse",
    "teacher",
    "journalist",
    "union chair",
    "strike committee member",
]

# Titles per taxonomy area, in be / ru / en. {e} is the employer, {p} the place.
TITLES: dict[str, dict[str, list[str]]] = {
    "A": {
        "be": [
            "Затрыманне актывіста прафсаюза {e} у {p}",
            "Крымінальная справа супраць сяброў незалежнага прафсаюза ({e})",
            "Ператрус у кватэры старшыні прафсаюза, {p}",
        ],
        "ru": [
            "Задержание активиста профсоюза {e} в {p}",
            "Уголовное дело против членов независимого профсоюза ({e})",
            "Обыск в квартире председателя профсоюза, {p}",
        ],
        "en": [
            "Arrest of a union activist at {e}, {p}",
            "Criminal case against independent union members ({e})",
            "Search of a union chair's home in {p}",
        ],
    },
    "B": {
        "be": ["Ліквідацыя першаснай арганізацыі прафсаюза на {e}", "Адмова ў рэгістрацыі прафсаюза, {p}"],
        "ru": ["Ликвидация первичной организации профсоюза на {e}", "Отказ в регистрации профсоюза, {p}"],
        "en": ["Liquidation of the union's primary organisation at {e}", "Union registration refused in {p}"],
    },
    "C": {
        "be": ["Звальненне сябра прафсаюза з {e}", "Непрадаўжэнне кантракта з актывісткай, {p}"],
        "ru": ["Увольнение члена профсоюза с {e}", "Непродление контракта с активисткой, {p}"],
        "en": ["Dismissal of a union member from {e}", "Contract of a union activist not renewed, {p}"],
    },
    "D": {
        "be": ["Адмова весці калектыўныя перамовы на {e}"],
        "ru": ["Отказ вести коллективные переговоры на {e}"],
        "en": ["Refusal to bargain collectively at {e}"],
    },
    "E": {
        "be": ["Пераслед удзельнікаў забастоўкі на {e}", "Забастоўка на {e} прызнана незаконнай"],
        "ru": ["Преследование участников забастовки на {e}", "Забастовка на {e} признана незаконной"],
        "en": ["Strikers at {e} prosecuted", "Strike at {e} declared illegal"],
    },
    "F": {
        "be": ["Прымусовая праца палітвязня ў калоніі, {p}", "Забарона звальняцца з {e}"],
        "ru": ["Принудительный труд политзаключённого в колонии, {p}", "Запрет на увольнение с {e}"],
        "en": [
            "Forced labour of a political prisoner in a penal colony, {p}",
            "Workers barred from leaving {e}",
        ],
    },
    "G": {
        "be": ["Дыскрымінацыя работніц на {e}", "Праца непаўналетніх на {e}"],
        "ru": ["Дискриминация работниц на {e}", "Труд несовершеннолетних на {e}"],
        "en": ["Discrimination against women workers at {e}", "Under-age workers at {e}"],
    },
}

SUMMARIES: dict[str, list[str]] = {
    "be": [
        "Паводле сведак, супрацоўнікі ГУБАЗіК прыйшлі па яго на прахадную пасля змены.",
        "Яе адвакату не давалі сустрэцца з ёй на працягу трох тыдняў.",
        "Кіраўніцтва прадпрыемства патрабавала выйсці з незалежнага прафсаюза.",
        "Суд прайшоў у закрытым рэжыме, сваякоў у залу не пусцілі.",
        "Пасля вызвалення яму забаранілі вяртацца на працоўнае месца.",
        "Справа звязаная з удзелам у забастоўцы ў жніўні 2020 года.",
    ],
    "ru": [
        "По словам свидетелей, сотрудники ГУБОПиК пришли за ним на проходную после смены.",
        "Её адвокату не давали встретиться с ней в течение трёх недель.",
        "Руководство предприятия требовало выйти из независимого профсоюза.",
        "Суд прошёл в закрытом режиме, родственников в зал не пустили.",
        "После освобождения ему запретили возвращаться на рабочее место.",
        "Дело связано с участием в забастовке в августе 2020 года.",
    ],
    "en": [
        "Witnesses say GUBOPiK officers took him at the factory gate after his shift.",
        "Her lawyer was not allowed to see her for three weeks.",
        "Management demanded that she leave the independent union.",
        "The trial was held behind closed doors; relatives were not let into the courtroom.",
        "After his release he was barred from returning to his workplace.",
        "The case concerns taking part in the strike of August 2020.",
    ],
}

TESTIMONIES: dict[str, list[str]] = {
    "be": [
        "Мяне затрымалі каля дома, тэлефон забралі адразу. Пра прафсаюз пыталіся на кожным допыце.",
        "Майстар сказаў, што кантракт не падоўжаць, калі я не напішу заяву аб выхадзе з прафсаюза.",
        "У камеры нас было дванаццаць на чатыры ложкі. Перадачы не прымалі.",
        "На сходзе калектыву нам прама сказалі: хто застанецца ў незалежным прафсаюзе, будзе звольнены.",
    ],
    "ru": [
        "Меня задержали у дома, телефон забрали сразу. О профсоюзе спрашивали на каждом допросе.",
        "Мастер сказал, что контракт не продлят, если я не напишу заявление о выходе из профсоюза.",
        "В камере нас было двенадцать на четыре койки. Передачи не принимали.",
        "На собрании коллектива нам прямо сказали: кто останется в независимом профсоюзе, будет уволен.",
    ],
    "en": [
        "They detained me outside my home and took my phone at once. Every interrogation asked about the union.",
        "The foreman said my contract would not be renewed unless I wrote a letter leaving the union.",
        "There were twelve of us in the cell for four bunks. Parcels were refused.",
        "At the staff meeting we were told plainly: whoever stays in the independent union will be dismissed.",
    ],
}

URGENCY_REASONS = [
    "The victim is held in custody and reported ill-treatment (CFA: personal freedom).",
    "The union's liquidation hearing is set for next month (CFA: dissolution of an organisation).",
]

# What happened to the victims, by the taxonomy group of the case (VictimStatus values, with weights).
VICTIM_OUTCOMES: dict[str, dict[str, int]] = {
    "A.LIB": {"detained": 25, "sentenced": 25, "on_trial": 10, "released": 25, "fined": 15},
    "A.DUE": {"sentenced": 45, "on_trial": 20, "detained": 10, "released": 15, "exiled": 10},
    "A.INT": {"injured": 40, "released": 30, "missing": 5, "dead": 2, "other": 23},
    "A.MOV": {"exiled": 60, "restricted_movement": 40},
    "A.EXP": {"fined": 40, "detained": 20, "released": 20, "other": 20},
    "A.PROP": {"under_investigation": 40, "released": 20, "other": 40},
    "B": {"dismissed": 20, "under_investigation": 20, "sentenced": 10, "other": 50},
    "C": {"dismissed": 60, "forbidden_workplace": 15, "reinstated": 5, "other": 20},
    "D": {"other": 70, "unknown": 30},
    "E": {"dismissed": 35, "sentenced": 20, "fined": 20, "detained": 15, "released": 10},
    "F": {"sentenced": 60, "detained": 20, "other": 20},
    "G": {"other": 60, "dismissed": 20, "unknown": 20},
}
