"""The demo world's fixed material: countries, cities, people's names and the texts cities
and reviewers write. Every address is under ``demo.example.org``; every Commission's name
ends in "(demo)". ``web.demo_world`` turns this into records, relative to the day it loads.
"""

from __future__ import annotations

from typing import NamedTuple


class Place(NamedTuple):
    code: str  #: ISO 3166-1 alpha-2
    name: str  #: the country's English name (pages show Babel's name in their language)
    language: str  #: the Commission's language, one of the network's
    timezone: str
    people: str  #: the pool of names its cities' people are drawn from
    cities: tuple[str, ...]


#: About forty countries of the five UNESCO regions. LV, FR and EE are also the small
#: demo's (their Commissions stay as that demo made them); the world adds cities to them.
PLACES: tuple[Place, ...] = (
    # Europe and North America
    Place(
        "LV",
        "Latvia",
        "lv",
        "Europe/Riga",
        "lv",
        (
            "Rīga",
            "Liepāja",
            "Daugavpils",
            "Ventspils",
            "Rēzekne",
            "Cēsis",
            "Sigulda",
            "Ogre",
            "Jūrmala",
            "Tukums",
            "Talsi",
        ),
    ),
    Place(
        "FR",
        "France",
        "fr",
        "Europe/Paris",
        "fr",
        (
            "Nantes",
            "Évry-Courcouronnes",
            "Clermont-Ferrand",
            "Montpellier",
            "Brest",
            "Grenoble",
            "Mantes-la-Jolie",
            "Villeurbanne",
            "Rennes",
            "Besançon",
            "Lille",
            "Strasbourg",
            "Bordeaux",
        ),
    ),
    Place(
        "EE",
        "Estonia",
        "en",
        "Europe/Tallinn",
        "ee",
        ("Tallinn", "Pärnu", "Narva", "Viljandi", "Rakvere", "Kuressaare", "Haapsalu"),
    ),
    Place(
        "DE",
        "Germany",
        "en",
        "Europe/Berlin",
        "de",
        (
            "Gelsenkirchen",
            "Leipzig",
            "Mannheim",
            "Nürnberg",
            "Bremen",
            "Dortmund",
            "Freiburg im Breisgau",
            "Kiel",
            "Potsdam",
            "Würzburg",
            "Heidelberg",
            "Essen",
            "Münster",
            "Rostock",
        ),
    ),
    Place(
        "ES",
        "Spain",
        "en",
        "Europe/Madrid",
        "es",
        (
            "Barcelona",
            "Sevilla",
            "Bilbao",
            "Valencia",
            "Zaragoza",
            "Málaga",
            "Gijón",
            "Vitoria-Gasteiz",
            "Córdoba",
            "Granada",
            "Santander",
            "Salamanca",
            "Cádiz",
        ),
    ),
    Place(
        "IT",
        "Italy",
        "en",
        "Europe/Rome",
        "it",
        (
            "Torino",
            "Bologna",
            "Palermo",
            "Fermo",
            "Trieste",
            "Genova",
            "Padova",
            "Bari",
            "Lecce",
            "Parma",
            "Perugia",
            "Verona",
        ),
    ),
    Place(
        "IE",
        "Ireland",
        "en",
        "Europe/Dublin",
        "en",
        ("Cork", "Limerick", "Galway", "Waterford", "Kilkenny", "Sligo", "Athlone", "Dundalk"),
    ),
    Place(
        "FI",
        "Finland",
        "en",
        "Europe/Helsinki",
        "fi",
        ("Espoo", "Turku", "Tampere", "Oulu", "Lahti", "Jyväskylä", "Vantaa", "Kuopio", "Pori"),
    ),
    Place(
        "PT",
        "Portugal",
        "en",
        "Europe/Lisbon",
        "pt",
        ("Porto", "Braga", "Coimbra", "Aveiro", "Faro", "Évora", "Setúbal", "Viseu", "Leiria"),
    ),
    Place(
        "BE",
        "Belgium",
        "fr",
        "Europe/Brussels",
        "fr",
        ("Liège", "Namur", "Charleroi", "Mons", "Tournai", "Louvain-la-Neuve"),
    ),
    Place(
        "PL",
        "Poland",
        "en",
        "Europe/Warsaw",
        "pl",
        (
            "Gdańsk",
            "Wrocław",
            "Lublin",
            "Poznań",
            "Łódź",
            "Katowice",
            "Toruń",
            "Kraków",
            "Szczecin",
        ),
    ),
    Place(
        "GB",
        "United Kingdom",
        "en",
        "Europe/London",
        "en",
        (
            "Swansea",
            "Bristol",
            "Glasgow",
            "Derry",
            "Wrexham",
            "Norwich",
            "Leeds",
            "Cardiff",
            "Belfast",
            "Manchester",
        ),
    ),
    Place(
        "CA",
        "Canada",
        "fr",
        "America/Toronto",
        "ca",
        (
            "Laval",
            "Montréal",
            "Sherbrooke",
            "Gatineau",
            "Victoria",
            "Halifax",
            "Québec",
            "Saguenay",
        ),
    ),
    Place(
        "KZ",
        "Kazakhstan",
        "ru",
        "Asia/Almaty",
        "ru",
        (
            "Almaty",
            "Astana",
            "Shymkent",
            "Karaganda",
            "Aktobe",
            "Pavlodar",
            "Kostanay",
            "Oskemen",
            "Atyrau",
        ),
    ),
    Place(
        "KG",
        "Kyrgyzstan",
        "ru",
        "Asia/Bishkek",
        "ru",
        ("Bishkek", "Osh", "Karakol", "Jalal-Abad", "Tokmok"),
    ),
    Place(
        "UZ",
        "Uzbekistan",
        "ru",
        "Asia/Tashkent",
        "ru",
        ("Tashkent", "Samarkand", "Bukhara", "Nukus", "Fergana", "Namangan", "Andijan"),
    ),
    Place("AM", "Armenia", "ru", "Asia/Yerevan", "ru", ("Yerevan", "Gyumri", "Vanadzor")),
    # Asia and the Pacific
    Place(
        "CN",
        "China",
        "en",
        "Asia/Shanghai",
        "cn",
        (
            "Beijing",
            "Shanghai",
            "Hangzhou",
            "Chengdu",
            "Wuhan",
            "Xi'an",
            "Suzhou",
            "Qingdao",
            "Ningbo",
            "Dalian",
            "Zhuhai",
            "Kunming",
            "Xiamen",
            "Shenzhen",
            "Harbin",
            "Changsha",
            "Nanjing",
            "Tianjin",
        ),
    ),
    Place(
        "KR",
        "Republic of Korea",
        "en",
        "Asia/Seoul",
        "kr",
        (
            "Suwon",
            "Namyangju",
            "Gunpo",
            "Incheon",
            "Daegu",
            "Gwangju",
            "Busan",
            "Jeonju",
            "Changwon",
            "Siheung",
            "Osan",
            "Yeonsu",
            "Seoul",
            "Ulsan",
            "Daejeon",
            "Pohang",
            "Jeju",
        ),
    ),
    Place(
        "JP",
        "Japan",
        "en",
        "Asia/Tokyo",
        "jp",
        (
            "Okayama",
            "Hakusan",
            "Nagoya",
            "Sapporo",
            "Kitakyushu",
            "Sendai",
            "Kobe",
            "Hiroshima",
            "Kanazawa",
        ),
    ),
    Place(
        "IN",
        "India",
        "en",
        "Asia/Kolkata",
        "in",
        (
            "Thrissur",
            "Nilambur",
            "Warangal",
            "Pune",
            "Kochi",
            "Mysuru",
            "Chennai",
            "Jaipur",
            "Bhubaneswar",
        ),
    ),
    Place(
        "ID",
        "Indonesia",
        "en",
        "Asia/Jakarta",
        "id",
        (
            "Surabaya",
            "Bandung",
            "Yogyakarta",
            "Semarang",
            "Malang",
            "Denpasar",
            "Medan",
            "Makassar",
        ),
    ),
    Place(
        "PH",
        "Philippines",
        "en",
        "Asia/Manila",
        "ph",
        ("Baguio", "Iloilo", "Cebu", "Davao", "Quezon City", "Balanga", "Manila", "Naga"),
    ),
    Place(
        "TH",
        "Thailand",
        "en",
        "Asia/Bangkok",
        "th",
        (
            "Chiang Mai",
            "Phuket",
            "Chachoengsao",
            "Sukhothai",
            "Khon Kaen",
            "Nakhon Si Thammarat",
            "Udon Thani",
            "Hat Yai",
        ),
    ),
    Place(
        "VN",
        "Viet Nam",
        "en",
        "Asia/Ho_Chi_Minh",
        "vn",
        ("Hanoi", "Hue", "Da Nang", "Can Tho", "Sa Dec", "Vinh", "Hai Phong", "Nha Trang"),
    ),
    Place(
        "AU",
        "Australia",
        "en",
        "Australia/Melbourne",
        "en",
        ("Melton", "Wyndham", "Hume", "Adelaide", "Brisbane", "Geelong", "Perth", "Hobart"),
    ),
    Place("MN", "Mongolia", "en", "Asia/Ulaanbaatar", "mn", ("Ulaanbaatar", "Darkhan", "Erdenet")),
    # Africa
    Place(
        "SN",
        "Senegal",
        "fr",
        "Africa/Dakar",
        "wa",
        ("Dakar", "Saint-Louis", "Thiès", "Ziguinchor", "Kaolack", "Mbour", "Touba"),
    ),
    Place(
        "CI",
        "Côte d'Ivoire",
        "fr",
        "Africa/Abidjan",
        "wa",
        ("Abidjan", "Yamoussoukro", "Bouaké", "San-Pédro", "Korhogo", "Daloa"),
    ),
    Place(
        "CM",
        "Cameroon",
        "fr",
        "Africa/Douala",
        "wa",
        ("Yaoundé", "Douala", "Bafoussam", "Garoua", "Bamenda", "Maroua"),
    ),
    Place(
        "NG",
        "Nigeria",
        "en",
        "Africa/Lagos",
        "wa",
        ("Lagos", "Ibadan", "Abuja", "Enugu", "Kano", "Benin City", "Port Harcourt", "Kaduna"),
    ),
    Place(
        "KE",
        "Kenya",
        "en",
        "Africa/Nairobi",
        "ea",
        ("Nairobi", "Mombasa", "Kisumu", "Nakuru", "Eldoret", "Thika", "Machakos"),
    ),
    Place(
        "GH",
        "Ghana",
        "en",
        "Africa/Accra",
        "wa",
        ("Accra", "Kumasi", "Tamale", "Cape Coast", "Takoradi"),
    ),
    Place(
        "ZA",
        "South Africa",
        "en",
        "Africa/Johannesburg",
        "za",
        (
            "Cape Town",
            "Durban",
            "Gqeberha",
            "Johannesburg",
            "Tshwane",
            "Bloemfontein",
            "Polokwane",
            "East London",
        ),
    ),
    Place("RW", "Rwanda", "en", "Africa/Kigali", "ea", ("Kigali", "Huye", "Musanze")),
    # Arab States
    Place(
        "MA",
        "Morocco",
        "fr",
        "Africa/Casablanca",
        "ar",
        ("Chefchaouen", "Fès", "Marrakech", "Rabat", "Tanger", "Agadir", "Meknès", "Oujda"),
    ),
    Place(
        "TN",
        "Tunisia",
        "fr",
        "Africa/Tunis",
        "ar",
        ("Sfax", "Sousse", "Monastir", "Bizerte", "Gabès"),
    ),
    Place(
        "EG",
        "Egypt",
        "en",
        "Africa/Cairo",
        "ar",
        ("Giza", "Aswan", "Alexandria", "Luxor", "Damietta", "Port Said", "Mansoura"),
    ),
    Place("JO", "Jordan", "en", "Asia/Amman", "ar", ("Amman", "Irbid", "Zarqa", "Aqaba", "Madaba")),
    Place(
        "AE",
        "United Arab Emirates",
        "en",
        "Asia/Dubai",
        "ar",
        ("Sharjah", "Dubai", "Al Ain", "Ajman", "Ras Al Khaimah"),
    ),
    # Latin America and the Caribbean
    Place(
        "MX",
        "Mexico",
        "en",
        "America/Mexico_City",
        "es",
        (
            "Mexico City",
            "Guadalajara",
            "Puebla",
            "Monterrey",
            "Querétaro",
            "Morelia",
            "Mérida",
            "Ensenada",
            "Oaxaca",
            "León",
            "Tijuana",
            "Hermosillo",
        ),
    ),
    Place(
        "CO",
        "Colombia",
        "en",
        "America/Bogota",
        "es",
        (
            "Medellín",
            "Bogotá",
            "Santiago de Cali",
            "Manizales",
            "Ibagué",
            "Barranquilla",
            "Cartagena",
            "Pereira",
            "Bucaramanga",
        ),
    ),
    Place(
        "BR",
        "Brazil",
        "en",
        "America/Sao_Paulo",
        "pt",
        (
            "Sorocaba",
            "Contagem",
            "Curitiba",
            "Fortaleza",
            "Recife",
            "Porto Alegre",
            "Belo Horizonte",
            "Salvador",
            "Florianópolis",
            "Campinas",
        ),
    ),
    Place(
        "AR",
        "Argentina",
        "en",
        "America/Argentina/Buenos_Aires",
        "es",
        (
            "Córdoba",
            "Rosario",
            "Mendoza",
            "Villa María",
            "Buenos Aires",
            "La Plata",
            "Mar del Plata",
            "Salta",
        ),
    ),
    Place(
        "CL",
        "Chile",
        "en",
        "America/Santiago",
        "es",
        ("Santiago", "Valparaíso", "Concepción", "Temuco", "Antofagasta", "La Serena"),
    ),
)

#: Given names and family names by pool (people of the demo, not real office holders).
NAMES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "lv": (
        ("Anna", "Jānis", "Ilze", "Māris", "Līga", "Edgars", "Dace", "Kristaps"),
        ("Bērziņa", "Ozols", "Kalniņa", "Liepa", "Krūmiņa", "Zariņš", "Vītola", "Eglītis"),
    ),
    "fr": (
        ("Camille", "Julien", "Claire", "Mathieu", "Sophie", "Antoine", "Élodie", "Nicolas"),
        ("Martin", "Bernard", "Dubois", "Lefèvre", "Moreau", "Girard", "Fontaine", "Roux"),
    ),
    "ee": (
        ("Kadri", "Tõnu", "Liis", "Margus", "Kati", "Rein"),
        ("Tamm", "Saar", "Kask", "Mägi", "Ilves", "Rebane"),
    ),
    "de": (
        ("Lena", "Jonas", "Katrin", "Stefan", "Miriam", "Tobias"),
        ("Müller", "Schmidt", "Becker", "Hoffmann", "Wagner", "Krüger"),
    ),
    "es": (
        ("Lucía", "Javier", "Marta", "Diego", "Carmen", "Andrés"),
        ("García", "Martínez", "López", "Sánchez", "Romero", "Navarro"),
    ),
    "it": (
        ("Giulia", "Marco", "Chiara", "Luca", "Francesca", "Matteo"),
        ("Rossi", "Bianchi", "Romano", "Colombo", "Ricci", "Greco"),
    ),
    "en": (
        ("Aoife", "Liam", "Sarah", "James", "Niamh", "Owen", "Emily", "Daniel"),
        ("Murphy", "Walsh", "Taylor", "Brown", "Evans", "Clarke", "Hughes", "Wright"),
    ),
    "fi": (
        ("Aino", "Mikko", "Laura", "Juha", "Sanna", "Antti"),
        ("Virtanen", "Korhonen", "Mäkinen", "Nieminen", "Laine", "Heikkinen"),
    ),
    "pt": (
        ("Ana", "João", "Beatriz", "Pedro", "Mariana", "Rafael"),
        ("Silva", "Santos", "Ferreira", "Costa", "Oliveira", "Almeida"),
    ),
    "pl": (
        ("Agnieszka", "Piotr", "Katarzyna", "Tomasz", "Magdalena", "Paweł"),
        ("Nowak", "Kowalska", "Wiśniewski", "Zielińska", "Wójcik", "Kamiński"),
    ),
    "ca": (
        ("Geneviève", "Marc", "Isabelle", "Olivier", "Emma", "Ryan"),
        ("Tremblay", "Gagnon", "Roy", "Côté", "Campbell", "MacDonald"),
    ),
    "ru": (
        ("Айгерим", "Нурлан", "Дина", "Тимур", "Мадина", "Арман", "Гульнара", "Данияр"),
        (
            "Ахметова",
            "Сейткали",
            "Исмаилова",
            "Каримов",
            "Абдуллаева",
            "Юсупов",
            "Назарова",
            "Оспанов",
        ),
    ),
    "cn": (
        ("Wei", "Li Na", "Jun", "Mei", "Hao", "Xiu"),
        ("Wang", "Zhang", "Liu", "Chen", "Yang", "Zhao"),
    ),
    "kr": (
        ("Min-jun", "Seo-yeon", "Ji-ho", "Ha-eun", "Jae-won", "Su-bin"),
        ("Kim", "Lee", "Park", "Choi", "Jung", "Kang"),
    ),
    "jp": (
        ("Yui", "Haruto", "Aoi", "Ren", "Sakura", "Kenji"),
        ("Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito"),
    ),
    "in": (
        ("Priya", "Arjun", "Lakshmi", "Rahul", "Anjali", "Vikram"),
        ("Nair", "Menon", "Sharma", "Reddy", "Iyer", "Patel"),
    ),
    "id": (
        ("Siti", "Budi", "Dewi", "Agus", "Rina", "Eko"),
        ("Wijaya", "Santoso", "Pratama", "Hidayat", "Kusuma", "Saputra"),
    ),
    "ph": (
        ("Maria", "Jose", "Angelica", "Mark", "Kristine", "Paolo"),
        ("Santos", "Reyes", "Cruz", "Bautista", "Garcia", "Mendoza"),
    ),
    "th": (
        ("Somchai", "Malee", "Niran", "Kanya", "Anan", "Pim"),
        ("Saetang", "Wongsa", "Chaiyaporn", "Srisuk", "Boonmee", "Thongchai"),
    ),
    "vn": (
        ("Lan", "Minh", "Huong", "Tuan", "Mai", "Duc"),
        ("Nguyen", "Tran", "Le", "Pham", "Hoang", "Vu"),
    ),
    "mn": (
        ("Bolormaa", "Bat-Erdene", "Oyun", "Ganbaatar"),
        ("Batbayar", "Dorj", "Enkhbold", "Tsogt"),
    ),
    "wa": (
        ("Aminata", "Moussa", "Fatou", "Ibrahima", "Awa", "Kwame", "Chiamaka", "Yao"),
        ("Diop", "Ndiaye", "Traoré", "Koné", "Mensah", "Okafor", "Kouassi", "Fall"),
    ),
    "ea": (
        ("Wanjiru", "Otieno", "Achieng", "Mugisha", "Amani", "Kamau"),
        ("Mwangi", "Odhiambo", "Uwase", "Njoroge", "Habimana", "Wekesa"),
    ),
    "za": (
        ("Thandiwe", "Sipho", "Naledi", "Pieter", "Lerato", "Johan"),
        ("Nkosi", "Dlamini", "van der Merwe", "Mokoena", "Botha", "Khumalo"),
    ),
    "ar": (
        ("Fatima", "Youssef", "Leila", "Omar", "Salma", "Karim"),
        ("El Amrani", "Haddad", "Mansour", "Benali", "Khalil", "Saleh"),
    ),
}

#: A mayor's title in the city's language of communication.
MAYOR_TITLE = {"en": "Mayor", "fr": "Maire", "lv": "Domes priekšsēdētājs", "ru": "Мэр"}

#: The Commission's name, as it would write it, marked as demo data.
COMMISSION_NAME = {
    "en": "National Commission of {country} for UNESCO (demo)",
    "fr": "Commission nationale pour l'UNESCO, {country} (demo)",
    "lv": "UNESCO Nacionālā komisija, {country} (demo)",
    "ru": "Национальная комиссия по делам ЮНЕСКО, {country} (demo)",
}

#: The application form's texts, as a city writes them in its language.
MOTIVATION = {
    "en": (
        "{city} wants every resident to keep learning at every age: in libraries, parks, "
        "workplaces and online. Joining the network would connect our learning festival "
        "and neighbourhood centres with cities that have walked this road before us.",
        "Lifelong learning is how {city} meets a changing labour market and an ageing "
        "population. We want to learn from peers, share our community learning map and "
        "measure our progress against the network's key features.",
    ),
    "fr": (
        "{city} veut que chaque habitant puisse apprendre à tout âge : en bibliothèque, "
        "dans les quartiers, au travail et en ligne. Rejoindre le réseau relierait notre "
        "fête de l'apprentissage à des villes qui ont déjà fait ce chemin.",
        "L'apprentissage tout au long de la vie est notre réponse à un marché du travail "
        "qui change. {city} souhaite partager ses maisons du savoir et mesurer ses progrès "
        "avec les villes du réseau.",
    ),
    "lv": (
        "{city} vēlas, lai ikviens iedzīvotājs varētu mācīties jebkurā vecumā: bibliotēkās, "
        "apkaimēs, darbā un tiešsaistē. Dalība tīklā savienotu mūsu mācīšanās festivālu ar "
        "pilsētām, kas šo ceļu jau gājušas.",
        "Mūžizglītība ir veids, kā {city} atbild uz pārmaiņām darba tirgū. Mēs vēlamies "
        "mācīties no citām pilsētām un dalīties ar savu apkaimju izglītības karti.",
    ),
    "ru": (
        "{city} хочет, чтобы каждый житель мог учиться в любом возрасте: в библиотеках, "
        "в районах, на работе и онлайн. Участие в сети свяжет наш фестиваль обучения с "
        "городами, которые уже прошли этот путь.",
        "Обучение в течение всей жизни — наш ответ на перемены на рынке труда. {city} "
        "хочет учиться у других городов и делиться своей картой образовательных мест.",
    ),
}
PLAN = {
    "en": (
        "A yearly learning festival, a map of learning places, a council for lifelong "
        "learning with the university and employers, and monitoring every second year.",
        "Neighbourhood learning centres in every district, digital skills for older "
        "residents, and a public report on participation each year.",
    ),
    "fr": (
        "Une fête annuelle de l'apprentissage, une carte des lieux d'apprentissage, un "
        "conseil avec l'université et les employeurs, et un suivi tous les deux ans.",
        "Des maisons du savoir dans chaque quartier, le numérique pour les aînés et un "
        "rapport public annuel sur la participation.",
    ),
    "lv": (
        "Ikgadējs mācīšanās festivāls, mācīšanās vietu karte, mūžizglītības padome ar "
        "universitāti un darba devējiem un uzraudzība ik pēc diviem gadiem.",
        "Apkaimju mācību centri katrā rajonā, digitālās prasmes senioriem un ikgadējs "
        "publisks pārskats par dalību.",
    ),
    "ru": (
        "Ежегодный фестиваль обучения, карта мест обучения, совет по образованию взрослых "
        "с университетом и работодателями и мониторинг раз в два года.",
        "Центры обучения в каждом районе, цифровые навыки для пожилых жителей и "
        "ежегодный открытый отчёт об участии.",
    ),
}
#: A progress report's summary, in the city's language.
REPORT_SUMMARY = {
    "en": "Since the last report: {n} new learning places, a learning festival with "
    "{k} events, and adult courses in every district.",
    "fr": "Depuis le dernier rapport : {n} nouveaux lieux d'apprentissage, une fête de "
    "l'apprentissage avec {k} événements et des cours pour adultes dans chaque quartier.",
    "lv": "Kopš iepriekšējā ziņojuma: {n} jaunas mācīšanās vietas, mācīšanās festivāls ar "
    "{k} pasākumiem un pieaugušo kursi katrā apkaimē.",
    "ru": "С прошлого отчёта: {n} новых мест обучения, фестиваль обучения с {k} "
    "мероприятиями и курсы для взрослых в каждом районе.",
}

#: What a Commission writes (in its language) when it returns or declines.
COMMISSION_RETURN = {
    "en": "Please attach the council's decision and say who leads the plan.",
    "fr": "Merci de joindre la délibération du conseil et de préciser qui pilote le plan.",
    "lv": "Lūdzu, pievienojiet domes lēmumu un norādiet, kas vada plānu.",
    "ru": "Приложите, пожалуйста, решение совета и укажите, кто руководит планом.",
}
COMMISSION_DECLINE = {
    "en": "We endorse at most three cities a call; this plan is not yet ready.",
    "fr": "Nous ne soutenons que trois villes par appel ; ce plan n'est pas encore prêt.",
    "lv": "Vienā uzsaukumā atbalstām ne vairāk kā trīs pilsētas; plāns vēl nav gatavs.",
    "ru": "Мы поддерживаем не более трёх городов за один конкурс; план ещё не готов.",
}
#: What the Institute writes, in the city's language where the network has it (else English).
INSTITUTE_NOT_ADMITTED = {
    "en": "The jury asks for a clearer budget and a first year of results; apply again.",
    "fr": "Le jury demande un budget plus clair et une première année de résultats.",
    "lv": "Žūrija lūdz skaidrāku budžetu un pirmā gada rezultātus; piesakieties vēlreiz.",
    "ru": "Жюри просит более ясный бюджет и результаты первого года; подайте заявку снова.",
}
INSTITUTE_REPORT_RETURNED = {
    "en": "Please add figures on participation and the budget spent since the last report.",
    "fr": "Merci d'ajouter les chiffres de participation et le budget dépensé.",
    "lv": "Lūdzu, pievienojiet dalības skaitļus un kopš pēdējā ziņojuma iztērēto budžetu.",
    "ru": "Добавьте, пожалуйста, данные об участии и бюджет, потраченный с прошлого отчёта.",
}
INSTITUTE_REMOVED = {
    "en": "No progress report for more than two cycles despite our reminders.",
    "fr": "Aucun rapport depuis plus de deux cycles malgré nos rappels.",
    "lv": "Vairāk nekā divus ciklus nav iesniegts neviens ziņojums, neraugoties uz atgādinājumiem.",
    "ru": "Более двух циклов нет ни одного отчёта, несмотря на наши напоминания.",
}

#: One account per role in each of the network's languages: (role, language, name).
ACCOUNT_NAMES = {
    ("admin", "en"): "Alex Morgan",
    ("admin", "fr"): "Camille Laurent",
    ("admin", "lv"): "Ilze Kalniņa",
    ("admin", "ru"): "Ирина Волкова",
    ("institute", "en"): "Hannah Becker",
    ("institute", "fr"): "Amélie Rousseau",
    ("institute", "lv"): "Kristaps Liepa",
    ("institute", "ru"): "Олег Смирнов",
    ("commission", "en"): "Siobhán Walsh",
    ("commission", "fr"): "Aminata Diop",
    ("commission", "lv"): "Dace Vītola",
    ("commission", "ru"): "Айгерим Сейткали",
    ("city", "en"): "Owen Murphy",
    ("city", "fr"): "Fatou Ndiaye",
    ("city", "lv"): "Māris Ozols",
    ("city", "ru"): "Тимур Каримов",
}
#: Where each language's Commission and city accounts work (country, city).
ACCOUNT_PLACES = {
    "en": ("IE", "Cork"),
    "fr": ("SN", "Saint-Louis"),
    "lv": ("LV", "Liepāja"),
    "ru": ("KZ", "Shymkent"),
}

#: A demo city's answers to the 2026 questionnaire (config/questionnaires/2026.toml), in
#: the language the city writes; {n} and {k} vary by city.
REPORT_ANSWERS: dict[str, dict[str, str]] = {
    "en": {
        "highlights": "{n} new learning places and a learning festival with {k} events.",
        "actions": "Family reading circles in every district; courses for adults at work.",
        "partners": "The university, the public libraries and the chamber of commerce.",
        "monitoring": "A yearly survey of adult participation, published online.",
        "challenges": "Reaching rural districts and funding after the pilot years.",
        "plans": "Two more community learning centres and a second festival.",
    },
    "fr": {
        "highlights": "{n} nouveaux lieux d'apprentissage et une fête avec {k} événements.",
        "actions": "Des cercles de lecture en famille dans chaque quartier ; des cours au travail.",
        "partners": "L'université, les bibliothèques publiques et la chambre de commerce.",
        "monitoring": "Une enquête annuelle sur la participation des adultes, publiée en ligne.",
        "challenges": "Atteindre les quartiers ruraux et financer l'après-projet pilote.",
        "plans": "Deux nouveaux centres d'apprentissage de quartier et une deuxième fête.",
    },
    "lv": {
        "highlights": "{n} jaunas mācīšanās vietas un festivāls ar {k} pasākumiem.",
        "actions": "Ģimeņu lasīšanas pulciņi katrā apkaimē; pieaugušo kursi darbavietās.",
        "partners": "Universitāte, publiskās bibliotēkas un tirdzniecības kamera.",
        "monitoring": "Ikgadēja pieaugušo līdzdalības aptauja, publicēta tiešsaistē.",
        "challenges": "Sasniegt lauku apkaimes un finansējums pēc izmēģinājuma gadiem.",
        "plans": "Vēl divi kopienas mācīšanās centri un otrais festivāls.",
    },
    "ru": {
        "highlights": "{n} новых мест обучения и фестиваль обучения из {k} мероприятий.",
        "actions": "Семейные читательские кружки в каждом районе; курсы для взрослых на работе.",
        "partners": "Университет, публичные библиотеки и торговая палата.",
        "monitoring": "Ежегодный опрос об участии взрослых, публикуемый онлайн.",
        "challenges": "Охват сельских районов и финансирование после пилотных лет.",
        "plans": "Ещё два общественных центра обучения и второй фестиваль.",
    },
}
#: The Institute's comment on one section of a returned questionnaire.
REPORT_SECTION_COMMENT = {
    "en": "Please say what each partner does and how often you meet.",
    "fr": "Merci de préciser le rôle de chaque partenaire et la fréquence de vos réunions.",
    "lv": "Lūdzu, norādiet, ko dara katrs partneris un cik bieži jūs tiekaties.",
    "ru": "Уточните, пожалуйста, роль каждого партнёра и как часто вы встречаетесь.",
}
