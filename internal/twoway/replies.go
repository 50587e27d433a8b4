package twoway

import (
	"fmt"
	"slices"
	"strings"
)

// texts are the replies in one language. Every reply is meant to fit one SMS segment: 160
// GSM-7 characters (English) or 70 UCS-2 characters (every other language here); formats
// that take a name have a short form that does (TestRepliesFitOneSegment checks each
// language with the longest names).
//
// The Chinese, Sindhi, Pashto and Punjabi (Shahmukhi) texts are our own translations and
// need review by native speakers, like the node's other message texts (docs/twoway.md).
type texts struct {
	TooMany    string // the one reply a number over its rate limit gets
	Stop       string // STOP done
	Help       string // HELP, and anything not understood
	JoinUsage  string // JOIN without a place (or one refused)
	NotFound   string // prefix: the place of a JOIN was not found
	Joined     string // %s: the place; JoinedShort when it does not fit
	JoinedTiny string // %s: the place clipped to 30 characters
	LangUsage  string // %s: the languages, comma-separated
	LangShort  string
	LangSet    string // the language chosen was this one
	LevelUsage string
	NoReadings string
	NoGauge    string // prefix: the gauge or place of a LEVEL was not found
	Normal     string // flood class when no level is reached
	Flood      string // %s: the class's name (a rule level, e.g. "High")
	Rising     string
	Falling    string
	Steady     string
	Comma      string // list separator in the language's script
	Stop1      string // full stop
}

// replies holds the texts of every language the node replies in: each language package
// i18n carries (ur, en, zh, sd, ps, pnb).
var replies = map[string]*texts{
	"en": {
		TooMany:    "Too many messages: please wait a few minutes.",
		Stop:       "You will no longer receive warnings. To join again send JOIN and your place.",
		Help:       "Rabta warnings: JOIN <place>, STOP, LEVEL <gauge or place>, LANG <urdu/english>, HELP",
		JoinUsage:  "Send JOIN and your district or town, e.g. JOIN Lahore",
		NotFound:   "Place not found. ",
		Joined:     "Joined: warnings for %s. Send STOP to end, HELP for help.",
		JoinedTiny: "Joined: warnings for %s. STOP to end.",
		LangUsage:  "Send LANG and one of: %s",
		LangShort:  "Send LANG urdu or LANG english",
		LangSet:    "Language set: English.",
		LevelUsage: "Send LEVEL and a river gauge or place, e.g. LEVEL Lahore",
		NoReadings: "No river gauge readings are available yet.",
		NoGauge:    "No such gauge or place. ",
		Normal:     "normal", Flood: "%s flood", Rising: "rising", Falling: "falling", Steady: "steady",
		Comma: ", ", Stop1: ".",
	},
	"ur": {
		TooMany:    "بہت زیادہ پیغامات: چند منٹ بعد دوبارہ بھیجیں۔",
		Stop:       "آپ کو اب انتباہات نہیں بھیجے جائیں گے۔ دوبارہ: شامل اور جگہ کا نام",
		Help:       "شامل <جگہ>، بند، سطح <جگہ>، زبان <اردو/English>، مدد",
		JoinUsage:  "شامل اور اپنے ضلع کا نام بھیجیں، مثلاً: شامل لاہور",
		NotFound:   "جگہ نہیں ملی۔ ",
		Joined:     "شامل: %s کے انتباہات۔ ختم کرنے کو STOP بھیجیں",
		JoinedTiny: "شامل: %s۔ ختم: STOP",
		LangUsage:  "زبان اور ان میں سے ایک بھیجیں: %s",
		LangShort:  "زبان اردو یا زبان english بھیجیں",
		LangSet:    "زبان: اردو۔ انتباہات اور جوابات اردو میں آئیں گے۔",
		LevelUsage: "سطح اور دریا کے گیج یا جگہ کا نام بھیجیں، مثلاً: سطح لاہور",
		NoReadings: "ابھی دریا کے گیج کی کوئی ریڈنگ دستیاب نہیں۔",
		NoGauge:    "گیج یا جگہ نہیں ملی۔ ",
		Normal:     "معمول", Flood: "%s سیلاب", Rising: "بڑھ رہا ہے", Falling: "کم ہو رہا ہے", Steady: "مستحکم",
		Comma: "، ", Stop1: "۔",
	},
	"zh": {
		TooMany:    "消息太多：请几分钟后再发送。",
		Stop:       "您将不再收到预警。重新订阅请发送 JOIN 和地名。",
		Help:       "Rabta预警：JOIN <地名> 订阅，STOP 退订，LEVEL <地名> 查水位，LANG <语言>，HELP 帮助",
		JoinUsage:  "请发送 JOIN 和您的区县或城镇名，例如 JOIN Lahore",
		NotFound:   "未找到该地点。",
		Joined:     "已订阅：%s的预警。发送 STOP 退订，HELP 获取帮助。",
		JoinedTiny: "已订阅：%s。退订：STOP",
		LangUsage:  "请发送 LANG 和以下之一：%s",
		LangShort:  "请发送 LANG urdu 或 LANG english",
		LangSet:    "语言：中文。预警和回复将使用中文。",
		LevelUsage: "请发送 LEVEL 和河流水位站或地名，例如 LEVEL Lahore",
		NoReadings: "暂无河流水位站读数。",
		NoGauge:    "未找到水位站或地点。",
		Normal:     "正常", Flood: "%s级洪水", Rising: "上涨", Falling: "下降", Steady: "平稳",
		Comma: "，", Stop1: "。",
	},
	"sd": {
		TooMany:    "گهڻا پيغام: ڪجهه منٽن کانپوءِ ٻيهر موڪليو.",
		Stop:       "توهان کي هاڻي خبرداريون نه موڪليون وينديون. ٻيهر: JOIN ۽ جاءِ جو نالو",
		Help:       "Rabta: JOIN <جاءِ>، STOP، LEVEL <جاءِ>، LANG <ٻولي>، HELP",
		JoinUsage:  "JOIN ۽ پنهنجي ضلعي جو نالو موڪليو، مثال: JOIN Sukkur",
		NotFound:   "جاءِ نه ملي. ",
		Joined:     "شامل: %s جون خبرداريون. ختم ڪرڻ لاءِ STOP موڪليو",
		JoinedTiny: "شامل: %s. ختم: STOP",
		LangUsage:  "LANG ۽ انهن مان هڪ موڪليو: %s",
		LangShort:  "LANG urdu يا LANG english موڪليو",
		LangSet:    "ٻولي: سنڌي. خبرداريون ۽ جواب سنڌي ۾ ايندا.",
		LevelUsage: "LEVEL ۽ درياهه جي گيج يا جاءِ جو نالو موڪليو",
		NoReadings: "اڃا درياهه جي گيج جي ڪا ريڊنگ ناهي.",
		NoGauge:    "گيج يا جاءِ نه ملي. ",
		Normal:     "عام", Flood: "%s ٻوڏ", Rising: "وڌي رهي آهي", Falling: "گهٽجي رهي آهي", Steady: "ساڳي",
		Comma: "، ", Stop1: ".",
	},
	"ps": {
		TooMany:    "ډېر پیغامونه: څو دقیقې وروسته بیا ولیږئ.",
		Stop:       "تاسو ته به نور خبرتیاوې نه لیږل کېږي. بیا: JOIN او د ځای نوم",
		Help:       "Rabta: JOIN <ځای>، STOP، LEVEL <ځای>، LANG <ژبه>، HELP",
		JoinUsage:  "JOIN او د خپلې ولسوالۍ نوم ولیږئ، لکه: JOIN Peshawar",
		NotFound:   "ځای ونه موندل شو. ",
		Joined:     "شامل: د %s خبرتیاوې. د پای لپاره STOP ولیږئ",
		JoinedTiny: "شامل: %s. پای: STOP",
		LangUsage:  "LANG او له دې څخه یوه ولیږئ: %s",
		LangShort:  "LANG urdu یا LANG english ولیږئ",
		LangSet:    "ژبه: پښتو. خبرتیاوې او ځوابونه به په پښتو وي.",
		LevelUsage: "LEVEL او د سیند ګېج یا ځای نوم ولیږئ",
		NoReadings: "لا د سیند ګېج هېڅ لوستنه نشته.",
		NoGauge:    "ګېج یا ځای ونه موندل شو. ",
		Normal:     "عادي", Flood: "%s سېلاب", Rising: "لوړېږي", Falling: "ټیټېږي", Steady: "ثابت",
		Comma: "، ", Stop1: ".",
	},
	"pnb": {
		TooMany:    "بہت سارے سنیہے: کجھ منٹاں مگروں فیر گھلو۔",
		Stop:       "تہانوں ہن خبرداریاں نئیں گھلیاں جان گیاں۔ فیر: JOIN تے تھاں دا ناں",
		Help:       "Rabta: JOIN <تھاں>، STOP، LEVEL <تھاں>، LANG <بولی>، HELP",
		JoinUsage:  "JOIN تے اپنے ضلعے دا ناں گھلو، جیویں: JOIN Lahore",
		NotFound:   "تھاں نئیں لبھی۔ ",
		Joined:     "شامل: %s دیاں خبرداریاں۔ بند کرن لئی STOP گھلو",
		JoinedTiny: "شامل: %s۔ بند: STOP",
		LangUsage:  "LANG تے ایہناں وچوں اک گھلو: %s",
		LangShort:  "LANG urdu یا LANG english گھلو",
		LangSet:    "بولی: پنجابی۔ خبرداریاں تے جواب پنجابی وچ آؤن گے۔",
		LevelUsage: "LEVEL تے دریا دے گیج یا تھاں دا ناں گھلو",
		NoReadings: "حالے دریا دے گیج دی کوئی ریڈنگ نئیں۔",
		NoGauge:    "گیج یا تھاں نئیں لبھی۔ ",
		Normal:     "عام", Flood: "%s ہڑ", Rising: "ودھ رہیا اے", Falling: "گھٹ رہیا اے", Steady: "اکو جیہا",
		Comma: "، ", Stop1: "۔",
	},
}

// ReplyLanguages are the languages replies are written in (English first, then the
// others in i18n's order).
var ReplyLanguages = []string{"en", "ur", "zh", "sd", "ps", "pnb"}

// hasReplies tells whether replies are written in lang.
func hasReplies(lang string) bool { _, ok := replies[lang]; return ok }

// textsFor returns the replies in lang, English when there are none in it.
func textsFor(lang string) *texts {
	if t, ok := replies[lang]; ok {
		return t
	}
	return replies["en"]
}

// trendWord is trend ("rising", "falling", "steady", "") in lang.
func (t *texts) trendWord(trend string) string {
	switch trend {
	case "rising":
		return t.Rising
	case "falling":
		return t.Falling
	case "steady":
		return t.Steady
	}
	return ""
}

// list joins names with the language's comma, skipping empty ones.
func (t *texts) list(names ...string) string {
	return strings.Join(slices.DeleteFunc(names, func(s string) bool { return s == "" }), t.Comma)
}

// joinText confirms a JOIN for the place name, naming how to STOP.
func joinText(lang, name string) string {
	t := textsFor(lang)
	return fit(fmt.Sprintf(t.Joined, name), fit(fmt.Sprintf(t.JoinedTiny, clip(name, 40)), fmt.Sprintf(t.JoinedTiny, clip(name, 20))))
}

func helpText(lang string) string { return textsFor(lang).Help }
