//! The words the evaluation set's conversations are made of: names, places, jobs, hobbies with
//! what people say about them and ask about them, and the everyday chatter around the facts.
//!
//! Templates hold `{slot}` markers that [`fill`] replaces: `{rel}` a relative date ("last week"),
//! `{friend}` a friend's name, `{they}` / `{their}` / `{them}` that friend's pronouns.
//!
//! Over 500 lines: word lists and templates only, no logic beyond [`fill`].

/// `template` with every `{name}` of `slots` replaced by its value.
pub fn fill(template: &str, slots: &[(&str, &str)]) -> String {
    let mut text = template.to_string();
    for (name, value) in slots {
        text = text.replace(&format!("{{{name}}}"), value);
    }
    text
}

/// First names with the pronouns their people use: (name, they, their, them).
pub const PEOPLE: &[(&str, &str, &str, &str)] = &[
    ("Noor", "she", "her", "her"),
    ("Tomasz", "he", "his", "him"),
    ("Aiko", "she", "her", "her"),
    ("Mateo", "he", "his", "him"),
    ("Freya", "she", "her", "her"),
    ("Kwame", "he", "his", "him"),
    ("Lina", "she", "her", "her"),
    ("Oskar", "he", "his", "him"),
    ("Priya", "she", "her", "her"),
    ("Dario", "he", "his", "him"),
    ("Selin", "she", "her", "her"),
    ("Jonas", "he", "his", "him"),
    ("Maren", "she", "her", "her"),
    ("Ravi", "he", "his", "him"),
    ("Elif", "she", "her", "her"),
    ("Bram", "he", "his", "him"),
    ("Chiara", "she", "her", "her"),
    ("Yusuf", "he", "his", "him"),
    ("Ingrid", "she", "her", "her"),
    ("Tariq", "he", "his", "him"),
    ("Anouk", "she", "her", "her"),
    ("Luca", "he", "his", "him"),
    ("Sanne", "she", "her", "her"),
    ("Emeka", "he", "his", "him"),
    ("Hana", "she", "her", "her"),
    ("Felix", "he", "his", "him"),
    ("Zofia", "she", "her", "her"),
    ("Marek", "he", "his", "him"),
    ("Leila", "she", "her", "her"),
    ("Ruben", "he", "his", "him"),
    ("Ayla", "she", "her", "her"),
    ("Nils", "he", "his", "him"),
    ("Rosa", "she", "her", "her"),
    ("Idris", "he", "his", "him"),
    ("Mira", "she", "her", "her"),
    ("Teo", "he", "his", "him"),
    ("Jun", "they", "their", "them"),
    ("Sasha", "they", "their", "them"),
];

/// Names for babies (the person's niece or nephew).
pub const BABY_NAMES: &[(&str, &str)] = &[
    ("Isla", "girl"),
    ("Maya", "girl"),
    ("Elsa", "girl"),
    ("Nora", "girl"),
    ("Lotte", "girl"),
    ("Amara", "girl"),
    ("Theo", "boy"),
    ("Milo", "boy"),
    ("Kai", "boy"),
    ("Arlo", "boy"),
    ("Otto", "boy"),
    ("Elias", "boy"),
];

/// Cities people live in (the person, their family and friends each get a different one).
pub const CITIES: &[&str] = &[
    "Lyon",
    "Ghent",
    "Utrecht",
    "Porto",
    "Bologna",
    "Leipzig",
    "Krakow",
    "Edinburgh",
    "Bristol",
    "Valencia",
    "Aarhus",
    "Graz",
    "Rotterdam",
    "Seville",
    "Tallinn",
    "Ljubljana",
    "Bordeaux",
    "Cork",
    "Gothenburg",
    "Basel",
    "Brno",
    "Turin",
    "Nantes",
    "Malmo",
    "Bilbao",
    "Antwerp",
    "Leeds",
    "Galway",
    "Innsbruck",
    "Dresden",
];

/// Places people travel to.
pub const TRIPS: &[&str] = &[
    "Sicily",
    "the Azores",
    "Iceland",
    "Crete",
    "Kyoto",
    "Marrakech",
    "the Lofoten islands",
    "Sardinia",
    "Montenegro",
    "Vancouver Island",
    "Cappadocia",
    "the Scottish Highlands",
];

/// Jobs, as said after "a"/"an" is chosen by the template ("a {job}" reads fine for all of these).
pub const JOBS: &[&str] = &[
    "physiotherapist",
    "primary school teacher",
    "data analyst",
    "pastry chef",
    "civil engineer",
    "cardiology nurse",
    "graphic designer",
    "bike mechanic",
    "pharmacist",
    "translator",
    "landscape architect",
    "paramedic",
    "librarian",
    "software tester",
    "veterinary nurse",
    "sound engineer",
    "dental hygienist",
    "structural engineer",
    "tram driver",
    "florist",
];

/// Where jobs are done.
pub const WORKPLACES: &[&str] = &[
    "a sports clinic",
    "the city hospital",
    "a small design studio",
    "an insurance company",
    "the central library",
    "a logistics firm",
    "a bakery chain",
    "the university",
    "a wind energy company",
    "the regional council",
    "a family-run pharmacy",
    "a video game studio",
];

/// What the person's local landmark is.
pub const LANDMARKS: &[&str] = &[
    "river",
    "cathedral",
    "old harbour",
    "train station",
    "market hall",
    "castle",
    "botanical garden",
    "football stadium",
];

/// Pets: (species, what it is afraid of, what it steals).
pub const PETS: &[(&str, &str, &str)] = &[
    ("cat", "the hoover", "butter"),
    ("dog", "thunderstorms", "socks"),
    ("rabbit", "the doorbell", "phone chargers"),
    ("cat", "plastic bags", "hair ties"),
    ("dog", "skateboards", "sandwiches"),
    ("parrot", "the blender", "earrings"),
    ("cat", "the washing machine", "bread"),
    ("dog", "the neighbour's goose", "tennis balls"),
];

/// Pet names.
pub const PET_NAMES: &[&str] = &[
    "Pixel",
    "Biscuit",
    "Mochi",
    "Pepper",
    "Juniper",
    "Nacho",
    "Olive",
    "Ziggy",
    "Waffles",
    "Clementine",
    "Bruno",
    "Tofu",
    "Pickles",
    "Maple",
    "Sprout",
    "Domino",
    "Hazel",
    "Gizmo",
];

/// Pet colours.
pub const PET_COLOURS: &[&str] = &[
    "ginger",
    "black",
    "grey",
    "tabby",
    "brown and white",
    "cream",
];

/// Things people are allergic to.
pub const ALLERGENS: &[&str] = &[
    "peanuts",
    "shellfish",
    "sesame",
    "kiwi",
    "cashews",
    "celery",
    "mustard",
    "hazelnuts",
];

/// What the person drinks in the morning after giving up espresso.
pub const NEW_DRINKS: &[&str] = &[
    "matcha",
    "rooibos",
    "chai",
    "green tea",
    "hot water with lemon",
    "barley tea",
];

/// Books: (title, author).
pub const BOOKS: &[(&str, &str)] = &[
    ("The Left Hand of Darkness", "Ursula Le Guin"),
    ("Middlemarch", "George Eliot"),
    ("The Remains of the Day", "Kazuo Ishiguro"),
    ("Piranesi", "Susanna Clarke"),
    ("A Gentleman in Moscow", "Amor Towles"),
    ("The Shadow of the Wind", "Carlos Ruiz Zafon"),
    ("Station Eleven", "Emily St John Mandel"),
    ("The Master and Margarita", "Mikhail Bulgakov"),
    ("Rebecca", "Daphne du Maurier"),
    ("Stoner", "John Williams"),
];

/// Bands and singers seen live.
pub const BANDS: &[&str] = &[
    "Khruangbin",
    "Fleet Foxes",
    "Little Simz",
    "Bon Iver",
    "Arctic Monkeys",
    "Rosalia",
    "The National",
    "Phoebe Bridgers",
    "Fontaines DC",
    "Hozier",
];

/// Body parts people hurt.
pub const INJURIES: &[&str] = &["ankle", "wrist", "knee", "shoulder", "thumb", "lower back"];

/// Relative dates, as people say them.
pub const RELATIVE_DATES: &[&str] = &[
    "yesterday",
    "last week",
    "last weekend",
    "on Saturday",
    "two days ago",
    "last Tuesday",
    "on Sunday morning",
    "three weeks ago",
    "earlier this month",
    "last Friday night",
    "the day before yesterday",
    "a fortnight ago",
];

/// Something the person cannot stand, and an open question whose answer follows from it.
pub const DISLIKES: &[(&str, &str)] = &[
    (
        "honestly I can't stand crowded beaches, all that noise and sunburn",
        "Would a package holiday in a busy seaside resort in August suit me?",
    ),
    (
        "I really hate horror films, I sleep with the light on for a week afterwards",
        "Should I join my coworkers for their zombie movie marathon?",
    ),
    (
        "loud bars are my personal nightmare, I can never hear anyone",
        "Would a night out at a packed techno club be fun for me?",
    ),
    (
        "I'm terrified of flying, even short hops make my hands sweat",
        "Would a long-haul trip to New Zealand be relaxing for me?",
    ),
    (
        "I can't stand the cold, anything under ten degrees and I'm miserable",
        "Would a winter holiday in Lapland be a good idea for me?",
    ),
];

/// A hobby: what people say about it and what they may later ask.
pub struct Hobby {
    /// A short name, for tags.
    pub key: &'static str,
    /// Doing it with a friend (`{friend}`, `{they}`, `{rel}`).
    pub with_friend: &'static [&'static str],
    /// How the question names that friend: "the friend I go climbing with".
    pub buddy: &'static str,
    /// Everyday statements about it.
    pub statements: &'static [&'static str],
    /// A detail stated once, and a question about it (single hop).
    pub detail: (&'static str, &'static str),
    /// Taking it up (`{rel}`), and when-questions about it (temporal).
    pub start: (&'static str, &'static [&'static str]),
    /// Questions whose answer follows from the person's interest (open domain).
    pub open: &'static [&'static str],
}

pub const HOBBIES: &[Hobby] = &[
    Hobby {
        key: "climbing",
        with_friend: &[
            "went climbing with {friend} {rel}, {they} made the overhang look easy",
            "{friend} and I spent the whole evening at the bouldering gym {rel}",
        ],
        buddy: "the friend I go climbing with",
        statements: &[
            "my forearms are wrecked from the bouldering wall",
            "bought new climbing shoes and they pinch like crazy",
            "there's a new set of routes at the wall, the purple ones are evil",
        ],
        detail: (
            "I finally sent my first 6b at the wall, I actually screamed",
            "What grade did I finally manage on the wall?",
        ),
        start: (
            "I did my first ever bouldering session {rel}, I'm hooked",
            &[
                "When did I start climbing?",
                "Since when have I been going bouldering?",
            ],
        ),
        open: &[
            "Would a week in the Dolomites be my kind of holiday?",
            "Do you think I'd enjoy a via ferrata trip in the Alps?",
        ],
    },
    Hobby {
        key: "hiking",
        with_friend: &[
            "hiked the ridge trail with {friend} {rel}, {they} brought the best snacks",
            "{friend} dragged me up a hill at sunrise {rel}, worth it though",
        ],
        buddy: "the friend I go hiking with",
        statements: &[
            "did twenty kilometres through the forest on Sunday, my legs are jelly",
            "I need new hiking boots, mine let water in",
            "planning my next walk along the coast path",
        ],
        detail: (
            "my favourite trail is the one up to the old fire lookout tower",
            "Which walking route do I like best?",
        ),
        start: (
            "I joined a hiking club {rel}, first walk is next month",
            &["When did I sign up with the walking group?"],
        ),
        open: &[
            "Would I like walking the West Highland Way?",
            "Is a trekking holiday in Nepal something I'd enjoy?",
        ],
    },
    Hobby {
        key: "pottery",
        with_friend: &[
            "{friend} came to pottery class with me {rel}, {they} made a wonky vase",
            "throwing pots with {friend} {rel} was the most fun I've had in ages",
        ],
        buddy: "the friend who comes to pottery with me",
        statements: &[
            "I made a bowl in pottery class yesterday, it came out lopsided",
            "the kiln cracked two of my mugs this week",
            "centring clay on the wheel is so much harder than it looks",
        ],
        detail: (
            "the glaze I love most is a deep teal they call ocean, I put it on everything",
            "What colour do I like to finish my ceramics in?",
        ),
        start: (
            "I signed up for a ten-week pottery course {rel}",
            &["When did I start going to ceramics lessons?"],
        ),
        open: &[
            "Would a ceramics retreat in the countryside be a good present for me?",
            "Would I enjoy visiting a traditional kiln village in Japan?",
        ],
    },
    Hobby {
        key: "baking",
        with_friend: &[
            "baked cinnamon buns with {friend} {rel}, {they} ate half the dough",
            "{friend} and I had a bake-off {rel}, I won with my rye loaf",
        ],
        buddy: "the friend I bake with",
        statements: &[
            "my sourdough starter is finally bubbly again",
            "the bread came out flat, I think the kitchen was too cold",
            "I've been experimenting with seeded rye loaves",
        ],
        detail: (
            "I named my sourdough starter Doughbert, it lives on top of the fridge",
            "What's the name of the yeast culture I keep in the kitchen?",
        ),
        start: (
            "I baked my very first loaf {rel}, it was basically a brick",
            &["When did I get into making bread?"],
        ),
        open: &[
            "Would a bread-making weekend in a French village appeal to me?",
            "Would a professional stand mixer be a good gift for me?",
        ],
    },
    Hobby {
        key: "running",
        with_friend: &[
            "ran along the canal with {friend} {rel}, {they} kept a brutal pace",
            "{friend} and I did intervals at the track {rel}",
        ],
        buddy: "my running buddy",
        statements: &[
            "did ten kilometres before work this morning",
            "my running watch says I need a recovery day",
            "I bought proper running shoes, no more blisters",
        ],
        detail: (
            "my best time for five kilometres is twenty-four minutes flat",
            "How fast can I do a 5k?",
        ),
        start: (
            "I ran my first ever half marathon {rel}, two hours and three minutes",
            &["When did I do my first 21k race?"],
        ),
        open: &[
            "Should I sign up for a race abroad next spring?",
            "Would a treadmill desk be a good idea for me?",
        ],
    },
    Hobby {
        key: "guitar",
        with_friend: &[
            "jammed with {friend} {rel}, {they} play bass like a pro",
            "{friend} came over to play music {rel}, the neighbours complained",
        ],
        buddy: "the friend I play music with",
        statements: &[
            "my fingertips hurt from practising barre chords",
            "I've been learning a Django Reinhardt tune on the guitar",
            "changed the strings on my acoustic, it sounds brand new",
        ],
        detail: (
            "my guitar is a secondhand Yamaha I bought for eighty euros",
            "What brand is my instrument?",
        ),
        start: (
            "I had my first guitar lesson {rel}, my fingers are sore",
            &["When did I start learning the guitar?"],
        ),
        open: &[
            "Would I enjoy an acoustic open-mic night?",
            "Would a week at a folk music summer camp be fun for me?",
        ],
    },
    Hobby {
        key: "chess",
        with_friend: &[
            "played chess with {friend} in the park {rel}, {they} crushed me twice",
            "{friend} and I stayed up playing blitz {rel}",
        ],
        buddy: "the friend I play chess with",
        statements: &[
            "I lost three games online today, all to the same opening",
            "studying endgames is weirdly relaxing",
            "my rating went up by forty points this month",
        ],
        detail: (
            "my favourite opening is the Caro-Kann, it never lets me down",
            "Which opening do I like to play?",
        ),
        start: (
            "I played in my first chess tournament {rel}, won two games out of five",
            &["When was my first over-the-board tournament?"],
        ),
        open: &[
            "Would a strategy board game club be up my street?",
            "Should I watch a documentary about famous grandmasters?",
        ],
    },
    Hobby {
        key: "gardening",
        with_friend: &[
            "{friend} helped me repot everything on the balcony {rel}",
            "swapped seedlings with {friend} {rel}, {they} grow amazing chillies",
        ],
        buddy: "the friend who swaps plants with me",
        statements: &[
            "the tomatoes on my balcony are finally turning red",
            "slugs ate all my lettuce overnight",
            "I spent the afternoon pruning the rosemary",
        ],
        detail: (
            "I'm growing six kinds of basil this year, the Thai one smells incredible",
            "What herb am I growing lots of varieties of?",
        ),
        start: (
            "I planted my first vegetable seeds {rel}",
            &["When did I start growing my own veg?"],
        ),
        open: &[
            "Would a house with a big garden make me happy?",
            "Would an allotment be a good idea for me?",
        ],
    },
    Hobby {
        key: "birdwatching",
        with_friend: &[
            "went birdwatching with {friend} {rel}, {they} spotted a kingfisher",
            "{friend} lent me binoculars and we sat by the lake {rel}",
        ],
        buddy: "the friend I go birding with",
        statements: &[
            "a woodpecker has been drumming outside my window all week",
            "I saw a heron fishing in the canal",
            "filled the bird feeder again, the sparrows are greedy",
        ],
        detail: (
            "the rarest bird on my list is a hoopoe I saw on holiday",
            "What's the most unusual species I've ever spotted?",
        ),
        start: (
            "I bought my first pair of binoculars {rel}",
            &["When did I get into birding?"],
        ),
        open: &[
            "Would I enjoy a boat trip to see puffins?",
            "Would a wetland nature reserve be a good day out for me?",
        ],
    },
    Hobby {
        key: "photography",
        with_friend: &[
            "went on a photo walk with {friend} {rel}, {they} shoot only black and white",
            "{friend} and I developed film in {their} bathroom {rel}",
        ],
        buddy: "the friend I take photos with",
        statements: &[
            "I finished a roll of film and I'm nervous to see it",
            "the light at golden hour today was unreal",
            "I've been taking pictures of old shop signs",
        ],
        detail: (
            "my camera is an old Olympus from the seventies that belonged to my grandad",
            "What kind of camera do I shoot with?",
        ),
        start: (
            "I took my first photography class {rel}",
            &["When did I start learning photography?"],
        ),
        open: &[
            "Would a darkroom workshop be fun for me?",
            "Would I like a trip to a photo festival in Arles?",
        ],
    },
    Hobby {
        key: "cycling",
        with_friend: &[
            "rode sixty kilometres with {friend} {rel}, {they} never get tired",
            "{friend} and I cycled out to the lake {rel}",
        ],
        buddy: "the friend I ride with",
        statements: &[
            "I got a puncture on the way home, in the rain of course",
            "cleaned and oiled the chain on my road bike",
            "the headwind on the river path today was brutal",
        ],
        detail: (
            "my bike is a green steel frame I named Kermit",
            "What did I call my bicycle?",
        ),
        start: (
            "I bought a road bike {rel}, my first proper one",
            &["When did I get into cycling?"],
        ),
        open: &[
            "Would I like a bikepacking holiday through the Alps?",
            "Would the Tour de France be fun for me to watch in person?",
        ],
    },
    Hobby {
        key: "swimming",
        with_friend: &[
            "swam in the lake with {friend} {rel}, {they} didn't even flinch at the cold",
            "{friend} talked me into a sunrise sea swim {rel}",
        ],
        buddy: "the friend I swim with",
        statements: &[
            "did forty lengths at the pool before work",
            "the water in the lake was fourteen degrees, I lasted ten minutes",
            "my goggles keep fogging up",
        ],
        detail: (
            "my longest open-water swim is three kilometres across the bay",
            "What's the furthest I've ever swum outdoors?",
        ),
        start: (
            "I joined the open-water swimming club {rel}",
            &["When did I sign up with the lake swimmers?"],
        ),
        open: &[
            "Would I be into a wild swimming holiday in Slovenia?",
            "Would a spa weekend with an outdoor pool be my thing?",
        ],
    },
];

/// How a session starts.
pub const OPENERS: &[&str] = &[
    "hey!",
    "hi again",
    "morning",
    "evening!",
    "hello hello",
    "I'm back",
    "guess who",
    "hey you",
    "good evening",
    "hi, long time no talk",
    "yo",
    "hiya",
    "hello from the sofa",
    "back again, sorry",
    "hey there",
    "hi hi",
    "morning from a very grey day",
    "evening from bed",
];

/// How a session ends.
pub const CLOSERS: &[&str] = &[
    "ok I need to sleep, night!",
    "talk tomorrow",
    "gotta run, dinner's ready",
    "right, bedtime",
    "thanks for listening, night",
    "I'll let you go, bye for now",
    "ok signing off",
    "heading out, speak soon",
    "battery's dying, bye",
    "time to get some work done, later",
    "ok that's enough screen time for me",
    "off to bed, sleep well",
    "anyway, catch you later",
    "must dash, bye",
    "I'm off, take care",
    "see you next time",
];

/// Short reactions to the companion's replies.
pub const REACTIONS: &[&str] = &[
    "haha",
    "lol",
    "true",
    "fair enough",
    "hmm maybe",
    "yeah",
    "ok that's actually helpful",
    "I guess so",
    "you're right",
    "that's sweet of you",
    "good point",
    "no way",
    "interesting",
    "makes sense",
    "exactly",
    "ha, I knew you'd say that",
    "oh nice",
    "thanks",
    "that's fair",
    "I'll think about it",
    "mm not convinced",
    "wow",
    "oh wait really",
    "I like that idea",
    "ok ok",
    "sure",
    "that made me laugh",
    "honestly same",
    "hah, classic",
    "right",
];

/// Endings that turn a reaction into something new.
pub const REACTION_TAILS: &[&str] = &["", "!", ", honestly", " 😅", " tbh"];

/// Everyday statements between the facts.
pub const DAILY: &[&str] = &[
    "work was chaotic today",
    "I burned the toast again",
    "the neighbours are drilling at eight in the morning",
    "my train was cancelled so I walked",
    "I'm so sleepy today",
    "I finally cleaned the bathroom",
    "I ate way too much pasta",
    "it's pouring here",
    "I watched a documentary about octopuses",
    "I can't decide what to have for dinner",
    "my back hurts from the office chair",
    "the heating broke again",
    "I got a parking ticket, great",
    "spent the evening doing laundry",
    "I tried a new recipe and it was a disaster",
    "my laptop updated itself in the middle of a call",
    "bought a new plant for the kitchen",
    "my feet are freezing",
    "payday tomorrow, thank god",
    "the supermarket was out of eggs",
    "I had the weirdest dream last night",
    "there's a wasp in my room and I'm scared of it",
    "the bus driver sang the whole way today",
    "I spilled coffee on my white shirt",
    "my inbox is a disaster",
    "I've been binge-watching a baking show",
    "the sunset tonight was pink and orange",
    "I forgot my umbrella, obviously",
    "the power went out for an hour",
    "I reorganised my bookshelf by colour",
    "someone left a sofa on the pavement outside",
    "I slept eleven hours, no regrets",
    "my phone screen cracked",
    "meetings all day, my brain is mush",
    "I finally replied to all my emails",
    "I made soup with everything left in the fridge",
    "the lift in my building is broken again",
    "I found a tenner in an old coat",
    "a pigeon walked into the office today",
    "I've been humming the same song all day",
    "the wifi is painfully slow tonight",
    "I did a jigsaw puzzle all evening",
    "the cafe near work changed its playlist and it's all sea shanties now",
    "my umbrella turned inside out in the wind",
    "a stranger complimented my jacket today",
    "I accidentally joined a meeting with my camera on",
    "the washing machine is making a scary noise",
    "my neighbour's baby cried all night",
    "I finally finished that series everyone talks about",
    "the printer at work jammed four times",
    "I dropped my toast butter side down, naturally",
    "I went to bed way too late again",
    "my socks don't match and I don't care",
    "the trains were actually on time today",
    "I have three deadlines on the same day",
    "I cleaned out my fridge and found a mystery jar",
    "my hands smell of garlic after cooking",
    "there was a rainbow over the rooftops this evening",
];

/// Ways to start an everyday statement.
pub const DAILY_PREFIXES: &[&str] = &["", "", "", "ugh, ", "so, ", "honestly, ", "update: "];

/// When an everyday thing happened, for [`ACTIVITIES`].
pub const WHEN: &[&str] = &[
    "this morning",
    "tonight",
    "after work",
    "at lunch",
    "on the way home",
    "earlier",
    "before breakfast",
    "this afternoon",
];

/// Everyday things the person did: "{when} I {activity}, {comment}".
pub const ACTIVITIES: &[&str] = &[
    "queued for twenty minutes at the post office",
    "fixed the wobbly table leg with a folded receipt",
    "tried to assemble a flat-pack wardrobe",
    "found a great second-hand coat",
    "helped my neighbour carry a mattress",
    "walked the long way round through the park",
    "finally booked a dentist appointment",
    "made pancakes from scratch",
    "watered every plant in the flat",
    "sorted out my tax forms",
    "listened to an entire album without skipping",
    "cleared out the junk drawer",
    "got caught in a hailstorm",
    "ordered way too much takeaway",
    "did some stretching for once",
    "lost my keys for the third time this week",
    "fell asleep on the sofa",
    "called the bank and waited on hold forever",
    "made a huge pot of chilli",
    "bought flowers for no reason",
    "wrote an actual letter by hand",
    "rearranged the living room",
    "had a very long chat with a coworker",
    "took the bins out in my slippers",
    "discovered a new bakery two streets away",
    "ironed six shirts in one go",
    "returned a parcel that was the wrong size",
    "cooked dinner for my neighbours",
    "spent an hour choosing a new phone case",
    "repainted the bathroom door",
];

/// How the person comments on an everyday thing.
pub const COMMENTS: &[&str] = &[
    "not bad for a weekday",
    "small victories",
    "never again",
    "what a day",
    "it was oddly satisfying",
    "I feel like a real adult",
    "the usual chaos",
    "so that happened",
];

/// What people ask the companion itself.
pub const COMPANION_QUESTIONS: &[&str] = &[
    "what's your favourite season?",
    "do you ever get bored?",
    "any tips for falling asleep faster?",
    "what should I cook tonight?",
    "is it normal to feel tired all the time in winter?",
    "do you think it's weird to talk to an AI about my day?",
    "what's a good film for a rainy evening?",
    "how do people stay motivated to exercise?",
    "do you like music?",
    "what would you do on a free Sunday?",
    "how do I stop procrastinating?",
    "is it better to read before bed or listen to podcasts?",
    "what's the best way to learn a language?",
    "can you recommend a podcast?",
    "do you have a sense of humour?",
    "what's your take on pineapple on pizza?",
    "how much water should I drink a day?",
    "is it rude to leave a party without saying goodbye?",
    "what do you think makes a good friend?",
    "should I get a standing desk?",
    "how do you say cheers in Finnish?",
    "why is the sky blue?",
    "do you ever dream?",
    "what's a quick healthy breakfast?",
    "what's the capital of Australia again?",
    "how do I get better at small talk?",
    "is it too late to start piano at my age?",
    "how long should a nap be?",
    "what's a fun thing to do in the evening that isn't screens?",
    "how do I politely say no to extra work?",
    "what's your favourite word?",
    "do you think plants like music?",
    "what's the best way to fold a fitted sheet?",
    "how do I get rid of fruit flies?",
    "what board game would you recommend for four people?",
    "is it weird to eat cereal for dinner?",
    "how do I keep basil alive indoors?",
    "what's a good birthday present for a coworker?",
    "can you explain how tides work?",
    "what should I name my new houseplant?",
    "how do I make my flat feel cosier?",
    "are you always this cheerful?",
    "what's the difference between a latte and a cortado?",
    "how do I stop my glasses from fogging up?",
    "what's a good stretch for a stiff neck?",
    "is it worth learning to touch type?",
    "what's an easy dessert for guests?",
    "how do people keep their desks tidy?",
    "do you know any good riddles?",
    "why do onions make you cry?",
    "what's the best way to store fresh herbs?",
    "how do I write a polite complaint email?",
    "what's a good way to start journaling?",
    "should I get my winter tyres changed now?",
    "do you like rainy days?",
    "what's the longest river in Europe?",
    "how do I get wax out of a tablecloth?",
];

/// Ways to lead into a question for the companion.
pub const QUESTION_PREFIXES: &[&str] = &[
    "",
    "random question: ",
    "can I ask you something, ",
    "hey, ",
];

/// Endings that turn a statement into one that asks something: "…, have you ever tried it?".
/// The first ones fit what the person did; [`GENERIC_TAILS`] fit anything.
pub const STATEMENT_QUESTION_TAILS: &[&str] = &[
    "have you ever tried it?",
    "would you have done the same?",
    "does that sound silly?",
    "what do you think?",
    "is that weird?",
    "can you believe it?",
    "any advice?",
    "should I be worried?",
    "isn't that funny?",
    "right?",
    "you know?",
];

/// Question tails for everyday statements.
pub const GENERIC_TAILS: &[&str] = &[
    "what do you think?",
    "is that weird?",
    "can you believe it?",
    "should I be worried?",
    "isn't that funny?",
    "right?",
    "you know?",
];

/// Short tag questions after a reaction: "true, right?".
pub const REACTION_QUESTION_TAILS: &[&str] = &["right?", "you know?", "don't you think?"];

/// Glue between a statement and its question tail.
pub const TAIL_JOINS: &[&str] = &[", ", "... ", " — ", ". "];
