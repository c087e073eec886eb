"""Name, street and text lists for the sandbox demo data (seed.py).

Each culture has surnames in rough order of frequency (optionally with an explicit weight, `Name:w`),
so a few surnames are very common (Nguyen, Garcia, Patel, Smith) as in a real district, and
given names with accents, hyphens and apostrophes where the culture has them.
"""

from __future__ import annotations

import bisect
import functools
import random
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass


class Picker:
    """Weighted random choice with precomputed cumulative weights (one random() call per pick)."""

    __slots__ = ("_cum", "_items", "_total")

    def __init__(self, items: Sequence[str], weights: Sequence[float]) -> None:
        self._items = list(items)
        cum: list[float] = []
        total = 0.0
        for w in weights:
            total += w
            cum.append(total)
        self._cum = cum
        self._total = total

    def pick(self, rng: random.Random) -> str:
        return self._items[bisect.bisect_right(self._cum, rng.random() * self._total)]

    @property
    def items(self) -> list[str]:
        return self._items

    @property
    def cumulative(self) -> list[float]:
        return self._cum


def _parse(spec: str, exponent: float) -> Picker:
    """'A:30, B, C' -> Picker; items without a weight get a Zipf weight by rank."""
    names: list[str] = []
    weights: list[float] = []
    for rank, raw in enumerate(part.strip() for part in spec.split(",")):
        if not raw:
            continue
        name, _, weight = raw.partition(":")
        names.append(name.strip())
        weights.append(float(weight) if weight else 100.0 / (rank + 1) ** exponent)
    return Picker(names, weights)


@dataclass(frozen=True)
class Culture:
    key: str
    weight: float
    surnames: Picker
    male: Picker
    female: Picker
    middle_male: Picker | None = None  # None: middle names from the given-name lists
    middle_female: Picker | None = None
    english_names: bool = False  # many children use an English preferred name


def _culture(key: str, weight: float, surnames: str, male: str, female: str, **extra: object) -> Culture:
    return Culture(
        key,
        weight,
        _parse(surnames, 0.6),
        _parse(male, 0.6),
        _parse(female, 0.6),
        **extra,  # type: ignore[arg-type]
    )


CULTURES: tuple[Culture, ...] = (
    _culture(
        "anglo",
        27,
        "Smith, Johnson, Williams, Brown, Jones, Miller, Davis, Wilson, Anderson, Taylor, Thomas, Moore, "
        "Martin, Thompson, White, Harris, Clark, Lewis, Robinson, Walker, Young, Allen, King, Wright, Scott, "
        "Hill, Green, Adams, Baker, Nelson, Carter, Mitchell, Roberts, Turner, Phillips, Campbell, Parker, "
        "Evans, Edwards, Collins, Stewart, Morris, Rogers, Reed, Cook, Morgan, Bell, Bailey, Cooper, "
        "Richardson, Cox, Howard, Ward, Peterson, Gray, Watson, Brooks, Sanders, Price, Bennett, Wood, "
        "Barnes, Ross, Henderson, Jenkins, Perry, Powell, Long, Patterson, Hughes, Butler, Foster, Bryant, "
        "Russell, Griffin, Hayes, Myers, Ford, Hamilton, Graham, Wallace, Cole, West, Stone, Hunt, "
        "Black, Knight, Mason, Fisher, Holmes, Palmer, Wagner, Schmidt, Meyer, Hoffman, Van der Berg, St. John",
        "Liam, Noah, William, James, Benjamin, Lucas, Henry, Alexander, Mason, Michael, Ethan, Daniel, "
        "Jacob, Logan, Jackson, Samuel, Jonathan, Christopher, Matthew, Joseph, Andrew, Joshua, Nicholas, "
        "Robert, Thomas, Anthony, Zachary, Ryan, Owen, Wyatt, Caleb, Hunter, Carter, Connor, Tyler, Austin",
        "Olivia, Emma, Charlotte, Amelia, Ava, Sophia, Isabella, Mia, Evelyn, Harper, Abigail, Emily, "
        "Elizabeth, Katherine, Madison, Ella, Avery, Scarlett, Grace, Chloe, Victoria, Hannah, Lily, "
        "Rebecca, Margaret, Jennifer, Samantha, Natalie, Zoe, Addison, Mary-Kate, Anne-Marie, Brooke, Taylor",
    ),
    _culture(
        "hispanic",
        25,
        "García:30, Rodríguez:22, Martínez:21, Hernández:20, López:19, González:18, Pérez:14, Sánchez:13, "
        "Ramírez:12, Torres:10, Flores:10, Rivera:10, Gómez:9, Díaz:9, Cruz:7, Reyes:7, Morales:7, Ortiz:6, "
        "Gutiérrez:6, Chávez:6, Ramos:5, Ruiz:5, Álvarez:5, Mendoza:5, Castillo:5, Jiménez:5, Vásquez:4, "
        "Romero:4, Herrera:4, Medina:4, Aguilar:4, Vargas:4, Guzmán:3, Muñoz:3, Salazar:3, Delgado:3, "
        "Peña:3, Ríos:3, Contreras:3, Sandoval:2, Domínguez:2, Ibarra:2, Navarro:2, Fuentes:2, "
        "De la Cruz:2, Del Río:1, García López:2, Hernández-Ramírez:1, Núñez:2, Espinoza:2, Zúñiga:1",
        "Santiago, Mateo, Sebastián, Alejandro, Diego, José, Juan, Carlos, Luis, Miguel, Ángel, Jesús, "
        "Daniel, Gabriel, Adrián, Emiliano, Matías, Nicolás, Francisco, Javier, Eduardo, Andrés, Iker, "
        "Joaquín, Julián, Rafael, Fernando, Ricardo, Juan Carlos, José Luis, Héctor, Óscar",
        "Sofía, Valentina, Camila, María, Isabella, Ximena, Valeria, Mariana, Gabriela, Daniela, Lucía, "
        "Victoria, Natalia, Renata, Fernanda, Guadalupe, Andrea, Alejandra, Paola, Jimena, Regina, "
        "Ana Sofía, María José, Dolores, Luz, Esperanza, Itzel, Yaretzi, Abril, Noemí",
    ),
    _culture(
        "african_american",
        9,
        "Williams, Johnson, Smith, Jones, Brown, Jackson, Davis, Thomas, Harris, Robinson, Taylor, Wilson, "
        "Moore, White, Washington, Jefferson, Banks, Coleman, Simmons, Freeman, Bryant, Booker, Dixon, "
        "Gaines, Mack, Ellis, Holloway, Pierce, Battle, Mosley, Toussaint, Okoye, Desrosiers",
        "Jayden, Malik, DeShawn, Jamal, Elijah, Isaiah, Darius, Marcus, Xavier, Jalen, Andre, Tyrone, "
        "Josiah, Micah, Kendrick, Terrell, Cameron, Dominic, Khalil, Amari, D'Andre, Jaylen, Trevon",
        "Aaliyah, Imani, Zaria, Nia, Jasmine, Destiny, Kiara, Brianna, Ayanna, Keisha, Tiana, Makayla, "
        "Jada, Amara, Layla, Naomi, Kennedy, Ebony, Janae, Ta'Nyah, Shaniqua, Aniyah, Serenity",
    ),
    _culture(
        "vietnamese",
        5,
        "Nguyen:38, Tran:11, Le:10, Pham:7, Huynh:5, Hoang:5, Vo:4, Vu:4, Phan:3, Truong:3, Bui:2, "
        "Dang:2, Do:2, Ngo:1.5, Ho:1.5, Duong:1.3, Ly:1, Dinh:1, Lam:1",
        "Minh, Huy, Khoa, Bao, Duc, Tuan, Long, Nam, Phuc, Quang, Thanh, Vinh, Hieu, Khang, Dat, An, Hai",
        "Anh, Linh, Ngoc, Thao, Trang, Mai, Huong, Lan, Vy, Nhi, Tram, Hanh, Phuong, Thuy, My, Uyen, Tien",
        middle_male=_parse("Van:10, Minh, Duc, Quoc, Thanh, Huu, Gia", 0.7),
        middle_female=_parse("Thi:10, Ngoc, Thanh, Kim, Bich, Thu, Hong", 0.7),
        english_names=True,
    ),
    _culture(
        "chinese",
        5,
        "Wang:10, Li:10, Zhang:9, Liu:7, Chen:7, Yang:5, Huang:4, Zhao:4, Wu:4, Zhou:3, Xu:3, Sun:2, Ma:2, "
        "Zhu:2, Hu:2, Guo:2, Lin:2, He:2, Gao:1, Luo:1, Zheng:1, Liang:1, Wong:3, Chan:2, Leung:1, Lau:1",
        "Wei, Hao, Jun, Yi, Jie, Ming, Yuxuan, Zihan, Haoran, Junjie, Zhiwei, Bowen, Tianyi, Jiahao, Kai",
        "Jing, Xinyi, Yutong, Jiayi, Mei, Lan, Xiaoling, Yan, Ying, Zixuan, Ruoxi, Shu, Hui, Qing, Yuqi",
        english_names=True,
    ),
    _culture(
        "indian",
        5,
        "Patel:30, Shah:8, Singh:10, Sharma:7, Kumar:7, Reddy:5, Gupta:5, Desai:3, Mehta:3, Joshi:3, "
        "Iyer:2, Nair:2, Rao:3, Chaudhary:2, Menon:2, Agarwal:2, Bhatt:2, Kapoor:2, Pillai:1, Banerjee:1, "
        "Mukherjee:1, Srinivasan:1, Venkataraman:1, Das:2",
        "Aarav, Vihaan, Arjun, Ishaan, Rohan, Aditya, Krishna, Sai, Reyansh, Vivaan, Dev, Rahul, Ansh, "
        "Kabir, Aryan, Nikhil, Pranav, Siddharth, Harsh, Karthik",
        "Priya, Ananya, Diya, Saanvi, Aanya, Kavya, Meera, Neha, Riya, Ishita, Aadhya, Pooja, Shreya, "
        "Lakshmi, Anika, Tanvi, Nandini, Sneha, Divya, Aarohi",
    ),
    _culture(
        "irish",
        4,
        "Murphy, Kelly, O'Sullivan, Walsh, O'Brien, Byrne, Ryan, O'Connor, O'Neill, O'Reilly, Doyle, "
        "McCarthy, Gallagher, O'Doherty, Kennedy, Lynch, Murray, Quinn, Moore, McLoughlin, O'Carroll, "
        "Connolly, Daly, Dunne, Brennan, Burke, McGrath, Fitzgerald, Mac Giolla, Ó Briain",
        "Seán, Liam, Conor, Patrick, Ciarán, Cian, Oisín, Eoin, Darragh, Fionn, Tadhg, Pádraig, Rory, "
        "Cillian, Declan, Aidan, Brendan, Colm, Kieran",
        "Aoife, Siobhán, Niamh, Saoirse, Róisín, Caoimhe, Ciara, Aisling, Clodagh, Sinéad, Orla, Méabh, "
        "Eimear, Gráinne, Fiona, Maeve, Bridget, Nora",
    ),
    _culture(
        "nigerian",
        3,
        "Okafor, Adeyemi, Okonkwo, Eze, Ogunleye, Nwosu, Balogun, Obi, Adebayo, Okeke, Afolabi, Chukwu, "
        "Olawale, Nnamdi, Ogundipe, Ibrahim, Bello, Onyeka, Oyelaran, Akinwale, Uchenna, Adeleke",
        "Chukwuemeka, Oluwaseun, Adebayo, Obinna, Chidi, Babajide, Tobiloba, Kelechi, Ayodele, Emeka, "
        "Olumide, Ikechukwu, Tunde, Femi, Nnamdi, Oluwadamilare, Uche",
        "Chiamaka, Ngozi, Adaeze, Temitope, Ifeoma, Funmilayo, Oluwaseyi, Chinonso, Amarachi, Folake, "
        "Nneka, Yetunde, Ebere, Ifunanya, Titilayo, Ololade",
    ),
    _culture(
        "polish",
        3,
        "Nowak:10, Kowalski:8, Wiśniewski:6, Wójcik:5, Kowalczyk:5, Kamiński:5, Lewandowski:5, "
        "Zieliński:4, Szymański:4, Woźniak:4, Dąbrowski:3, Kozłowski:3, Jankowski:3, Mazur:3, Kwiatkowski:3, "
        "Krawczyk:2, Piotrowski:2, Grabowski:2, Nowakowski:2, Pawłowski:2, Michalski:2, Król:2, Wieczorek:1",
        "Jakub, Jan, Szymon, Filip, Kacper, Mateusz, Michał, Wojciech, Łukasz, Krzysztof, Piotr, Paweł, "
        "Tomasz, Bartosz, Aleksander, Maciej, Dawid, Kamil",
        "Zofia, Julia, Zuzanna, Maja, Hanna, Lena, Aleksandra, Natalia, Wiktoria, Oliwia, Małgorzata, "
        "Katarzyna, Agnieszka, Magdalena, Agata, Joanna, Weronika, Gabriela",
    ),
    _culture(
        "arabic",
        4,
        "Hassan, Ali, Ahmed, Mohamed, Ibrahim, Khalil, Haddad, Mansour, Saleh, Nasser, Abdullah, Al-Sayed, "
        "El-Amin, Hussein, Youssef, Farah, Darwish, Khoury, Aziz, Hamdan, Al-Khatib, Abdel Rahman, Suleiman",
        "Mohammed:14, Ahmed, Omar, Yusuf, Ali, Ibrahim, Hassan, Khalid, Adam, Zayd, Hamza, Karim, "
        "Mustafa, Tariq, Bilal, Amir, Abdullah, Rayan, Samir",
        "Fatima, Aisha, Layla, Mariam, Noor, Zainab, Sara, Amira, Yasmin, Hana, Salma, Leila, Rania, "
        "Dalia, Jana, Lina, Malak, Huda",
    ),
    _culture(
        "french",
        3,
        "Martin, Bernard, Dubois, Thomas, Robert, Richard, Petit, Durand, Leroy, Moreau, Simon, Laurent, "
        "Lefebvre, Michel, Garnier, Fournier, Girard, Lemaire, Bélanger, Côté, Gagnon, Tremblay, Roy, "
        "Gauthier, Pelletier, Lévesque, Bouchard, Desjardins, D'Amour, L'Heureux",
        "Louis, Gabriel, Léo, Raphaël, Arthur, Jules, Hugo, Théo, Mathéo, Étienne, François, Antoine, "
        "Jean-Luc, Jean-Baptiste, Rémi, Benoît, Noël, Mathis",
        "Chloé, Léa, Zoé, Manon, Camille, Inès, Jade, Louise, Amélie, Hélène, Noémie, Élodie, Margaux, "
        "Marie-Claire, Anaïs, Océane, Éloïse, Béatrice",
    ),
    _culture(
        "korean",
        2,
        "Kim:22, Lee:15, Park:9, Choi:5, Jung:4, Kang:3, Cho:3, Yoon:2, Jang:2, Lim:2, Han:2, Shin:1, Seo:1",
        "Min-jun, Seo-jun, Do-yun, Ji-ho, Ha-joon, Jae-won, Hyun-woo, Joon-young, Sung-min, Tae-yang",
        "Seo-yeon, Ji-woo, Ha-eun, Min-seo, Su-ah, Ji-yoon, Ye-jin, Chae-won, Da-eun, Yu-na",
        english_names=True,
    ),
    _culture(
        "filipino",
        3,
        "Santos:6, Reyes:5, Cruz:5, Bautista:4, Garcia:4, Mendoza:3, Ocampo:2, Dela Cruz:3, Villanueva:2, "
        "Ramos:2, Aquino:2, Castillo:2, Fernandez:2, Navarro:1, Pascual:1, Soriano:1, Manalo:1, Dizon:1",
        "Jose, Juan, Mark, John Paul, Angelo, Christian, Miguel, Rafael, Carlo, Gabriel, Jericho, Paolo",
        "Maria, Angel, Princess, Andrea, Kristine, Mary Grace, Jasmine, Nicole, Bea, Jolina, Althea, Trisha",
    ),
)

CULTURE_PICKER = Picker([c.key for c in CULTURES], [c.weight for c in CULTURES])
CULTURE_BY_KEY = {c.key: c for c in CULTURES}

# Very common full names in a US district: injected a few times so "Maria Garcia" exists several
# times with different birth dates (look-alikes that are NOT duplicates).
COMMON_FULL_NAMES: tuple[tuple[str, str, str, str], ...] = (
    ("hispanic", "F", "María", "García"),
    ("hispanic", "M", "José", "Hernández"),
    ("vietnamese", "M", "Minh", "Nguyen"),
    ("indian", "F", "Priya", "Patel"),
    ("anglo", "M", "Michael", "Smith"),
    ("arabic", "M", "Mohammed", "Ali"),
    ("chinese", "M", "Wei", "Chen"),
    ("korean", "F", "Ji-woo", "Kim"),
)

# Nicknames (formal -> informal); duplicates from hand-typed rosters often use them.
NICKNAMES: dict[str, tuple[str, ...]] = {
    "William": ("Bill", "Will", "Billy", "Liam"),
    "Robert": ("Bob", "Rob", "Bobby"),
    "Katherine": ("Kate", "Katie", "Kathy"),
    "Elizabeth": ("Liz", "Beth", "Eliza", "Lizzie"),
    "Alejandro": ("Alex", "Ale"),
    "Alexander": ("Alex", "Xander", "Sasha"),
    "Jonathan": ("Jon", "Johnny"),
    "Christopher": ("Chris", "Topher"),
    "Michael": ("Mike", "Mikey"),
    "Nicholas": ("Nick", "Nicky"),
    "Benjamin": ("Ben", "Benji"),
    "Samuel": ("Sam", "Sammy"),
    "Margaret": ("Maggie", "Meg", "Peggy"),
    "Jennifer": ("Jen", "Jenny"),
    "Abigail": ("Abby",),
    "Anthony": ("Tony",),
    "Joseph": ("Joe", "Joey"),
    "Daniel": ("Dan", "Danny"),
    "Matthew": ("Matt",),
    "Andrew": ("Andy", "Drew"),
    "Joshua": ("Josh",),
    "Zachary": ("Zach", "Zack"),
    "Rebecca": ("Becky", "Becca"),
    "Victoria": ("Tori", "Vicky"),
    "Isabella": ("Bella", "Izzy"),
    "Gabriel": ("Gabe",),
    "Samantha": ("Sam", "Sammie"),
    "Thomas": ("Tom", "Tommy"),
    "Jacob": ("Jake",),
    "Natalie": ("Nat",),
    "Madison": ("Maddie",),
    "Francisco": ("Paco", "Pancho"),
    "José": ("Pepe",),
    "Guadalupe": ("Lupe",),
    "Jesús": ("Chuy",),
    "Dolores": ("Lola",),
    "Eduardo": ("Lalo",),
    "Sebastián": ("Seba",),
    "Santiago": ("Santi",),
    "Alejandra": ("Ale",),
    "Fernando": ("Nando",),
    "Ricardo": ("Ricky",),
    "Valentina": ("Vale",),
    "Oluwaseun": ("Seun",),
    "Chukwuemeka": ("Emeka",),
    "Oluwadamilare": ("Dami",),
    "Tobiloba": ("Tobi",),
    "Babajide": ("Jide",),
    "Ikechukwu": ("Ike",),
    "Temitope": ("Tope",),
    "Oluwaseyi": ("Seyi",),
    "Małgorzata": ("Gosia",),
    "Katarzyna": ("Kasia",),
    "Aleksander": ("Olek",),
    "Zuzanna": ("Zuzia",),
    "Mohammed": ("Mo", "Hamoudi"),
    "Abdullah": ("Abdul",),
    "Ibrahim": ("Ibo",),
    "Mustafa": ("Musti",),
    "Patrick": ("Paddy",),
    "Pádraig": ("Paddy",),
    "Bridget": ("Biddy",),
    "Siddharth": ("Sid",),
    "Krishna": ("Krish",),
    "Karthik": ("Karthi",),
    "Jean-Baptiste": ("JB",),
    "Mathéo": ("Matt",),
}

ENGLISH_PREFERRED_MALE = ("Kevin", "Tony", "Andy", "Eric", "David", "Jason", "Henry", "Peter", "Danny")
ENGLISH_PREFERRED_FEMALE = ("Jenny", "Lily", "Amy", "Vivian", "Tiffany", "Cindy", "Grace", "Annie")

STREETS = (
    "Maple",
    "Oak",
    "Cedar",
    "Pine",
    "Elm",
    "Washington",
    "Lincoln",
    "Jefferson",
    "Park",
    "Lake",
    "Hillcrest",
    "Sunset",
    "Riverside",
    "Highland",
    "Willow",
    "Meadow",
    "Church",
    "Mill",
    "Spring",
    "Chestnut",
    "Walnut",
    "Franklin",
    "Madison",
    "Jackson",
    "Cherry",
    "Birch",
    "Dogwood",
    "Magnolia",
    "César Chávez",
    "Martin Luther King Jr.",
    "Los Robles",
    "Orchard",
    "Prospect",
    "Valley View",
    "Sycamore",
    "Laurel",
    "Juniper",
    "Aspen",
    "Hawthorne",
    "Fairview",
)
STREET_TYPES = ("Street", "Avenue", "Road", "Drive", "Lane", "Court", "Boulevard", "Way", "Place")
STREET_ABBREVIATIONS = {
    "Street": "St",
    "Avenue": "Ave",
    "Road": "Rd",
    "Drive": "Dr",
    "Lane": "Ln",
    "Court": "Ct",
    "Boulevard": "Blvd",
    "Way": "Way",
    "Place": "Pl",
}
CITIES = (
    ("Springfield", "62701"),
    ("Riverton", "62711"),
    ("Fairview", "62720"),
    ("Oak Park", "62733"),
    ("Lakeside", "62745"),
    ("Brookfield", "62758"),
    ("Cedar Falls", "62762"),
    ("Millbrook", "62775"),
)
AREA_CODES = ("217", "312", "630", "708", "773", "815", "847", "872", "224", "331")
PHONE_FORMATS = ("({a}) {b}-{c}", "{a}-{b}-{c}", "{a}.{b}.{c}", "+1 {a} {b} {c}", "{a}{b}{c}", "1-{a}-{b}-{c}")

DISTRICT_DOMAIN = "springfield-usd.example.org"
STUDENT_DOMAIN = "students.springfield-usd.example.org"
PERSONAL_DOMAINS = ("example.com", "example.net", "example.org", "mail.example.com")

SCHOOL_NAMES = (
    "Lincoln",
    "Washington",
    "Roosevelt",
    "Jefferson",
    "Cesar Chavez",
    "Maya Angelou",
    "Sally Ride",
    "Thurgood Marshall",
    "Rosa Parks",
    "Harriet Tubman",
    "Frederick Douglass",
    "Amelia Earhart",
    "Booker T. Washington",
    "Sequoyah",
    "Dolores Huerta",
    "Ruby Bridges",
    "Mae Jemison",
    "John Muir",
    "Oak Grove",
    "Riverside",
    "Lakeview",
    "Hillcrest",
    "Maple Ridge",
    "Cedar Creek",
    "Westwood",
    "Eastside",
    "Northgate",
    "Sunnyvale",
    "Pine Hollow",
    "Meadowbrook",
    "Valley View",
    "Fairmont",
)

# ASCII folding for characters NFKD does not decompose.
_SPECIAL_FOLD = str.maketrans(
    {"ł": "l", "Ł": "L", "ß": "ss", "đ": "d", "Đ": "D", "ø": "o", "Ø": "O", "æ": "ae", "œ": "oe"}
)


@functools.lru_cache(maxsize=65_536)
def ascii_fold(text: str) -> str:
    """'José Núñez' -> 'Jose Nunez'; 'Łukasz' -> 'Lukasz'."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_SPECIAL_FOLD))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@functools.lru_cache(maxsize=65_536)
def email_local(text: str) -> str:
    """Lower-case ASCII letters and digits only ('O'Brien-Núñez' -> 'obriennunez')."""
    return "".join(ch for ch in ascii_fold(text).lower() if ch.isalnum())


def polish_female(surname: str) -> str:
    """Kowalski -> Kowalska (Polish surnames agree with gender)."""
    if surname.endswith("ski") or surname.endswith("cki") or surname.endswith("dzki"):
        return surname[:-1] + "a"
    return surname
